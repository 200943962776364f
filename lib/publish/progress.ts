/**
 * Shows publishing progress through lib/core/progress.ts: on a terminal, an upload bar (bytes,
 * rate, time left); elsewhere (CI logs, pipes), one plain line per step and no bar.
 */
import { createProgressPrinter, formatDuration, type ProgressStream } from "../core/progress";
import type { PublishEvent } from "./publish";

export interface PublishReporter {
  onEvent(e: PublishEvent): void;
  /** A line of the caller's own (the build's, with --folder), kept clear of the upload bar. */
  note(message: string): void;
  /** Stops a bar still drawn (after a failure); safe to call twice. */
  stop(): void;
}

const MB = 1e6;

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
  const printer = createProgressPrinter(stream, opts);
  const now = opts.now ?? Date.now;
  let started = 0;
  let sent = 0;

  return {
    onEvent(e) {
      switch (e.kind) {
        case "step":
          printer.line(e.message);
          break;
        case "upload-start":
          if (!printer.tty) break;
          started = now();
          sent = 0;
          printer.startBar(e.total, {
            format: (_o, params) =>
              formatUploadBar({
                done: params.value,
                total: params.total,
                sent,
                elapsedMs: now() - started,
              }),
            fps: 5,
          });
          break;
        case "upload-progress":
          sent = e.sent;
          printer.updateBar(e.sent + e.reused);
          break;
        case "upload-done":
          printer.stop();
          break;
      }
    },
    note: (message) => printer.line(message),
    stop: printer.stop,
  };
}
