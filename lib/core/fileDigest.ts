/**
 * The sha256 of a file, streamed in 1 MiB reads: the one file hash behind staging's content
 * comparison, the zip digest without a build record, and publish's check of the zip it uploads.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

/** sha256 (hex) and size of the bytes read from `file`. */
export async function sha256File(file: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), bytes };
}
