/**
 * The one way hpc-batch shows progress: on a terminal, a bar drawn with cli-progress; elsewhere
 * (CI logs, pipes), plain lines only, since a bar's redraws would fill a log. `hpc-batch publish`
 * (lib/publish/progress.ts) and `hpc-batch verify` (lib/node/verify.ts) both print through it.
 */
import type * as cliProgress from "cli-progress";
import type { GenericFormatter, SingleBar } from "cli-progress";

/** Where progress goes: stdout or stderr, or a buffer in tests. */
export interface ProgressStream {
  write(chunk: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

/** Seconds as `45s`, `3m05s` or `1h02m`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export interface BarOptions {
  /** cli-progress's format: a template (`{bar}`, `{value}`, payload keys) or a function. */
  format: string | GenericFormatter;
  /** Redraws a second; cli-progress's default (10) when unset. */
  fps?: number;
  /** Values for the template's own keys. */
  payload?: object;
}

export interface ProgressPrinter {
  /** True when bars are drawn: the stream is a terminal. */
  readonly tty: boolean;
  /** True while a bar is drawn. */
  readonly drawing: boolean;
  /** Ends any bar, then writes `text` as one line. */
  line(text: string): void;
  /** On a terminal, ends any bar and draws a new one from 0 to `total`; elsewhere does nothing. */
  startBar(total: number, options: BarOptions): void;
  /** Moves the bar drawn, if any. */
  updateBar(value: number, payload?: object): void;
  /** Ends any bar (cleared from the screen); safe to call twice. */
  stop(): void;
}

export function createProgressPrinter(
  stream: ProgressStream,
  opts: { tty?: boolean } = {},
): ProgressPrinter {
  const tty = opts.tty ?? stream.isTTY === true;
  let bar: SingleBar | undefined;
  const stop = () => {
    if (bar) {
      bar.stop();
      bar = undefined;
    }
  };
  return {
    tty,
    get drawing() {
      return bar !== undefined;
    },
    line(text) {
      stop();
      stream.write(`${text}\n`);
    },
    startBar(total, { format, fps, payload }) {
      if (!tty) return;
      stop();
      // Loaded only to draw a bar: CI logs and pipes never need it (about 20 ms to load).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { SingleBar } = require("cli-progress") as typeof cliProgress;
      bar = new SingleBar({
        // cli-progress only writes, moves the cursor and clears lines: a ProgressStream that is a
        // terminal (process.stdout) does all three.
        stream: stream as unknown as NodeJS.WritableStream,
        format,
        hideCursor: true,
        clearOnComplete: true,
        ...(fps === undefined ? {} : { fps }),
      });
      bar.start(total, 0, payload);
    },
    updateBar(value, payload) {
      bar?.update(value, payload);
    },
    stop,
  };
}
