/** Zips written byte by byte, so tests can make the invalid and hostile ones a writer refuses. */
import * as zlib from "node:zlib";

/** One entry of a hand-made zip; every field a hostile zip might lie about can be set. */
export interface Crafted {
  name: string;
  data?: Buffer;
  /** 0 stored (default), 8 deflated, or anything else (written as stored bytes). */
  method?: number;
  flags?: number;
  /** Unix mode with type bits; written as "made by Unix" external attributes. */
  mode?: number;
  crc?: number;
  /** Declared uncompressed size (default the real one). */
  size?: number;
  /** Central directory points at the local header of this earlier entry instead of its own. */
  shareDataOf?: number;
}

/** Builds a zip byte by byte (APPNOTE 4.3.7, 4.3.12, 4.3.16) so tests can make invalid ones. */
export function craftZip(entries: Crafted[]): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  const offsets: number[] = [];
  let offset = 0;
  entries.forEach((e, i) => {
    const name = Buffer.from(e.name, "utf8");
    const data = e.data ?? Buffer.alloc(0);
    const method = e.method ?? 0;
    const stored = method === 8 ? zlib.deflateRawSync(data) : data;
    const crc = e.crc ?? zlib.crc32(data);
    const size = e.size ?? data.length;
    const flags = (e.flags ?? 0) | 0x800;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(33, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    offsets.push(offset);
    const own = e.shareDataOf === undefined;
    if (own) {
      locals.push(local, name, stored);
      offset += local.length + name.length + stored.length;
    }
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE((3 << 8) | 63, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(flags, 8);
    cd.writeUInt16LE(method, 10);
    cd.writeUInt16LE(0, 12);
    cd.writeUInt16LE(33, 14);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(stored.length, 20);
    cd.writeUInt32LE(size, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(((e.mode ?? 0o100644) << 16) >>> 0, 38);
    cd.writeUInt32LE(own ? offsets[i] : offsets[e.shareDataOf as number], 42);
    central.push(cd, name);
  });
  const cdBytes = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cdBytes.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cdBytes, eocd]);
}
