import { createProgressPrinter, formatDuration } from "../../../lib/core/progress";
import { captureStream } from "../../support/progressStream";

test.each([
  [0, "0s"],
  [44.6, "45s"],
  [185, "3m05s"],
  [3720, "1h02m"],
])("formatDuration(%s) is %s", (s, text) => {
  expect(formatDuration(s)).toBe(text);
});

test("not a terminal (CI): lines only, no bar drawn", () => {
  const stream = captureStream(false);
  const printer = createProgressPrinter(stream);
  printer.line("one");
  printer.startBar(3, { format: "work [{bar}] {value}/{total}" });
  printer.updateBar(2);
  expect(printer.drawing).toBe(false);
  printer.line("two");
  printer.stop();
  expect([printer.tty, stream.text()]).toEqual([false, "one\ntwo\n"]);
});

test("a terminal: the bar is drawn until a line or stop ends it", () => {
  const stream = captureStream(true);
  const printer = createProgressPrinter(stream);
  printer.line("before");
  printer.startBar(3, { format: "work {value}/{total} {state}", payload: { state: "queued" } });
  expect(printer.drawing).toBe(true);
  // cli-progress draws the first frame at once.
  expect(stream.text()).toContain("work 0/3 queued");
  printer.line("after");
  expect(printer.drawing).toBe(false);
  expect(stream.text().endsWith("after\n")).toBe(true);
  printer.startBar(2, { format: "again {value}/{total}", fps: 5 });
  printer.updateBar(1);
  printer.stop();
  printer.stop();
  expect(printer.drawing).toBe(false);
  // stop draws the last frame, then clears it (clearOnComplete).
  expect(stream.text()).toContain("again 1/2");
  expect(stream.text().startsWith("before\n")).toBe(true);
});

test("the tty option overrides the stream's own answer", () => {
  expect(createProgressPrinter(captureStream(true), { tty: false }).tty).toBe(false);
  expect(createProgressPrinter(captureStream(false), { tty: true }).tty).toBe(true);
});
