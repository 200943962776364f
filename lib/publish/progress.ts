/**
 * Shows publishing progress: on a terminal, an upload bar (bytes, rate, time left) drawn with
 * cli-progress; elsewhere (CI logs, pipes), one plain line per step and no bar.
 */
import { SingleBar } from "cli-progress";
import type { PublishEvent } from "./publish";

export interface ProgressStream {
  write(chunk: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

export interface PublishReporter {
  onEvent(e: PublishEvent): void;
  /** Stops a bar still drawn (after a failure); safe to call twice. */
  stop(): void;
}

const MB = 1e6;

/** Seconds as `45s`, `3m05s` or `1h02m`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * One frame of the upload bar, e.g.
 * `upload [██████████░░░░░░░░░░] 50% 11.5/23.1 MB 9.6 MB/s ETA 1s`. The rate counts only bytes sent
 * by this run (blocks reused from an interrupted run arrive instantly and would inflate it).
 */
export function formatUploadBar(p: {
  done: number;
  total: number;
  sent: number;
  elapsedMs: number;
  width?: number;
}): string {
  const width = p.width ?? 20;
  const ratio = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
  const filled = Math.round(ratio * width);
  const bar = "\u2588".repeat(filled) + "\u2591".repeat(width - filled);
  const rate = p.elapsedMs > 0 ? (p.sent / p.elapsedMs) * 1000 : 0;
  const eta = rate > 0 ? formatDuration((p.total - p.done) / rate) : "--";
  return (
    `upload [${bar}] ${Math.floor(ratio * 100)}% ` +
    `${(p.done / MB).toFixed(1)}/${(p.total / MB).toFixed(1)} MB ` +
    `${(rate / MB).toFixed(1)} MB/s ETA ${eta}`
  );
}

export function createPublishReporter(
  stream: ProgressStream,
  opts: { tty?: boolean; now?: () => number } = {},
): PublishReporter {
  const tty = opts.tty ?? stream.isTTY === true;
  const now = opts.now ?? Date.now;
  let bar: SingleBar | undefined;
  let started = 0;
  let sent = 0;

  const stop = () => {
    if (bar) {
      bar.stop();
      bar = undefined;
    }
  };
  return {
    onEvent(e) {
      switch (e.kind) {
        case "step":
          stop();
          stream.write(`${e.message}\n`);
          break;
        case "upload-start":
          if (!tty) break;
          started = now();
          sent = 0;
          bar = new SingleBar({
            stream: stream as unknown as NodeJS.WritableStream,
            format: (_o, params) =>
              formatUploadBar({
                done: params.value,
                total: params.total,
                sent,
                elapsedMs: now() - started,
              }),
            hideCursor: true,
            clearOnComplete: true,
            fps: 5,
          });
          bar.start(e.total, 0);
          break;
        case "upload-progress":
          sent = e.sent;
          bar?.update(e.sent + e.reused);
          break;
        case "upload-done":
          stop();
          break;
      }
    },
    stop,
  };
}
