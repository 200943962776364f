import { createPublishReporter, formatUploadBar } from "../../../lib/publish/progress";
import type { PublishEvent } from "../../../lib/publish/publish";
import { captureStream as capture } from "../../support/progressStream";

const run: PublishEvent[] = [
  { kind: "step", step: "application", message: "application ffmpeg: exists" },
  { kind: "step", step: "version", message: "version 1.0.0: created (Pending)" },
  { kind: "upload-start", total: 8_000_000 },
  { kind: "upload-progress", sent: 4_000_000, reused: 0, total: 8_000_000 },
  { kind: "upload-progress", sent: 8_000_000, reused: 0, total: 8_000_000 },
  {
    kind: "upload-done",
    bytesSent: 8_000_000,
    total: 8_000_000,
    blocks: 2,
    blocksReused: 0,
    ms: 1000,
  },
  {
    kind: "step",
    step: "upload",
    message: "upload: 8.0 MB sent in 1.0 s (8.0 MB/s), 2 blocks, 0 reused",
  },
  { kind: "step", step: "activate", message: "activate: version 1.0.0 is Active" },
];

test.each([
  [
    { done: 0, total: 23_100_000, sent: 0, elapsedMs: 0 },
    "upload [░░░░░░░░░░░░░░░░░░░░] 0% 0.0/23.1 MB 0.0 MB/s ETA --",
  ],
  [
    { done: 11_550_000, total: 23_100_000, sent: 11_550_000, elapsedMs: 1200 },
    "upload [██████████░░░░░░░░░░] 50% 11.6/23.1 MB 9.6 MB/s ETA 1s",
  ],
  // Reused blocks count as done but not in the rate.
  [
    { done: 20_000_000, total: 23_100_000, sent: 1_000_000, elapsedMs: 1000 },
    "upload [█████████████████░░░] 86% 20.0/23.1 MB 1.0 MB/s ETA 3s",
  ],
  [
    { done: 23_100_000, total: 23_100_000, sent: 23_100_000, elapsedMs: 2000, width: 10 },
    "upload [██████████] 100% 23.1/23.1 MB 11.6 MB/s ETA 0s",
  ],
])("formatUploadBar %#", (p, text) => {
  expect(formatUploadBar(p)).toBe(text);
});

test("not a terminal (CI): one line per step, no bar", () => {
  const stream = capture(false);
  const reporter = createPublishReporter(stream);
  for (const e of run) reporter.onEvent(e);
  reporter.stop();
  expect(stream.text()).toBe(
    [
      "application ffmpeg: exists",
      "version 1.0.0: created (Pending)",
      "upload: 8.0 MB sent in 1.0 s (8.0 MB/s), 2 blocks, 0 reused",
      "activate: version 1.0.0 is Active",
      "",
    ].join("\n"),
  );
});

test("a terminal: the bar is drawn during the upload, then the step lines continue", async () => {
  const stream = capture(true);
  let now = 0;
  const reporter = createPublishReporter(stream, { now: () => now });
  try {
    for (const e of run.slice(0, 4)) {
      now += 500;
      reporter.onEvent(e);
    }
    // cli-progress redraws on its own timer (5 frames a second).
    await new Promise((r) => setTimeout(r, 400));
    // 4 MB sent in the 500 ms since the upload started.
    expect(stream.text()).toContain("upload [██████████░░░░░░░░░░] 50% 4.0/8.0 MB 8.0 MB/s ETA 1s");
    for (const e of run.slice(4)) reporter.onEvent(e);
  } finally {
    reporter.stop();
  }
  expect(
    stream.text().startsWith("application ffmpeg: exists\nversion 1.0.0: created (Pending)\n"),
  ).toBe(true);
  expect(
    stream
      .text()
      .endsWith(
        "upload: 8.0 MB sent in 1.0 s (8.0 MB/s), 2 blocks, 0 reused\nactivate: version 1.0.0 is Active\n",
      ),
  ).toBe(true);
});
