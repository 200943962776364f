/**
 * CRC-32 (ISO-HDLC), as the zip writer and the zip reader (zipInspect) use it: a module of its own
 * so that reading a zip does not load the writer.
 */
import * as zlib from "node:zlib";

let crcTable: Int32Array | undefined;

/**
 * CRC-32 (ISO-HDLC, as zip uses) in plain JavaScript, a byte at a time: the fallback for
 * Node.js 20 before 20.15, which lacks `zlib.crc32` (about 10x slower, still correct).
 */
export function crc32Js(data: Uint8Array, value = 0): number {
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let c = ~value;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

type Crc32 = (data: Uint8Array, value?: number) => number;
const nativeCrc32 = (zlib as unknown as { crc32?: Crc32 }).crc32;

/** CRC-32 of `data`, continuing from `value`: `zlib.crc32` (Node.js >= 20.15) or `crc32Js`. */
export const crc32: Crc32 = typeof nativeCrc32 === "function" ? nativeCrc32 : crc32Js;
