/** A progress stream that keeps what is written: a terminal (`isTTY`) or a log. */
import type { ProgressStream } from "../../lib/core/progress";

export function captureStream(isTTY: boolean): ProgressStream & { text: () => string } {
  let out = "";
  return {
    isTTY,
    columns: 100,
    write(chunk: string) {
      out += chunk;
      return true;
    },
    // cli-progress drives a TTY stream with these; a string buffer is enough here.
    cursorTo: () => true,
    clearLine: () => true,
    moveCursor: () => true,
    text: () => out,
  } as ProgressStream & { text: () => string };
}
