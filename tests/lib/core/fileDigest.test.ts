import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { sha256File } from "../../../lib/core/fileDigest";

const MiB = 1 << 20;
let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-digest-"))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Bytes that differ in every 1 MiB piece, so a piece read twice or skipped changes the digest. */
function content(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7 + (i >>> 20)) & 0xff;
  return b;
}

// The reading buffer is 1 MiB and reused: sizes around its edges.
test.each([
  ["empty", 0],
  ["one byte", 1],
  ["one piece less a byte", MiB - 1],
  ["exactly one piece", MiB],
  ["one piece and a byte", MiB + 1],
  ["three pieces and a half", 3.5 * MiB],
])("sha256File of a file of %s is the digest of its bytes", async (_label, size) => {
  const data = content(size);
  const file = path.join(tmp, `f-${size}`);
  fs.writeFileSync(file, data);
  expect(await sha256File(file)).toEqual({
    sha256: createHash("sha256").update(data).digest("hex"),
    bytes: size,
  });
});

test("sha256File of a missing file rejects with ENOENT", async () => {
  await expect(sha256File(path.join(tmp, "missing"))).rejects.toMatchObject({ code: "ENOENT" });
});
