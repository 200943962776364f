import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  pendingRecordPath,
  readPendingRecord,
  removePendingRecord,
  withoutQuery,
  writePendingRecord,
  type PendingKey,
} from "../../../lib/publish/pendingRecord";

const BLOB = "https://acct.blob.core.windows.net/app-ffmpeg-0123456789abcdef/ffmpeg-1.0.0-2f6c.zip";
const SHA = "0123456789abcdef".repeat(4);
const KEY: PendingKey = {
  subscriptionId: "00000000-0000-0000-0000-000000000001",
  resourceGroup: "rg-hpc",
  account: "hpcbatch01",
  applicationId: "ffmpeg",
  version: "1.0.0",
};

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-batch-pending-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const zip = () => path.join(dir, "ffmpeg-1.0.0.zip");
const recordFile = () => pendingRecordPath(zip(), KEY);
/** Writes `text` as the record file, as another program or an older version could have. */
function writeRaw(text: string): string {
  const file = recordFile();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

describe("pendingRecordPath", () => {
  test("a file named by a hash of the version's identity, in .pending beside the zip", () => {
    expect(path.dirname(recordFile())).toBe(path.join(dir, ".pending"));
    expect(path.basename(recordFile())).toMatch(/^[0-9a-f]{16}\.json$/);
  });

  test("names are case-insensitive, as in Batch", () => {
    const upper = {
      ...KEY,
      account: "HPCBATCH01",
      applicationId: "FFmpeg",
      resourceGroup: "RG-HPC",
    };
    expect(pendingRecordPath(zip(), upper)).toBe(recordFile());
  });

  test.each(Object.keys(KEY) as (keyof PendingKey)[])("another %s: another file", (field) => {
    expect(pendingRecordPath(zip(), { ...KEY, [field]: `${KEY[field]}-other` })).not.toBe(
      recordFile(),
    );
  });
});

describe("writePendingRecord / readPendingRecord", () => {
  test("with a sha256: written as is, read back the same", () => {
    writePendingRecord(recordFile(), { storageUrl: BLOB, sha256: SHA });
    expect(fs.readFileSync(recordFile(), "utf8")).toBe(
      `${JSON.stringify({ storageUrl: BLOB, sha256: SHA })}\n`,
    );
    expect(readPendingRecord(recordFile())).toEqual({ storageUrl: BLOB, sha256: SHA });
  });

  test("a record a killed run left half written is removed; a live run's is left alone", () => {
    const pending = path.dirname(recordFile());
    fs.mkdirSync(pending, { recursive: true });
    const dead = spawnSync(process.execPath, ["-e", ""]).pid as number;
    const live = spawn(process.execPath, ["-e", "setInterval(() => {}, 1e9)"], { stdio: "ignore" });
    try {
      const other = "fedcba9876543210.json";
      fs.writeFileSync(path.join(pending, `${other}.${dead}.tmp`), '{"storageUrl":');
      fs.writeFileSync(path.join(pending, `${other}.${live.pid}.tmp`), '{"storageUrl":');
      fs.writeFileSync(path.join(pending, "notes.txt"), "not ours");
      writePendingRecord(recordFile(), { storageUrl: BLOB, sha256: SHA });
      expect(fs.readdirSync(pending).sort()).toEqual(
        [path.basename(recordFile()), `${other}.${live.pid}.tmp`, "notes.txt"].sort(),
      );
    } finally {
      live.kill();
    }
  });

  test("without a sha256 (a zip still being built): no sha256 key, read back without one", () => {
    writePendingRecord(recordFile(), { storageUrl: BLOB });
    expect(fs.readFileSync(recordFile(), "utf8")).toBe(`{"storageUrl":"${BLOB}"}\n`);
    const read = readPendingRecord(recordFile());
    expect(read).toEqual({ storageUrl: BLOB });
    expect(read && Object.keys(read)).toEqual(["storageUrl"]);
  });

  test("the SAS (any query) and fragment are never written", () => {
    writePendingRecord(recordFile(), {
      storageUrl: `${BLOB}?sv=2022-11-02&se=2030-01-01&sp=rcw&sig=c2VjcmV0%3D#frag`,
      sha256: SHA,
    });
    const text = fs.readFileSync(recordFile(), "utf8");
    expect(text).toBe(`${JSON.stringify({ storageUrl: BLOB, sha256: SHA })}\n`);
    expect(text).not.toContain("sig");
  });

  test("only the owner can read it, and no temporary file is left", () => {
    writePendingRecord(recordFile(), { storageUrl: BLOB });
    if (process.platform !== "win32") {
      expect(fs.statSync(recordFile()).mode & 0o777).toBe(0o600);
    }
    expect(fs.readdirSync(path.dirname(recordFile()))).toEqual([path.basename(recordFile())]);
  });

  test("a second write replaces the first (the sha256 once the build is done)", () => {
    writePendingRecord(recordFile(), { storageUrl: BLOB });
    writePendingRecord(recordFile(), { storageUrl: BLOB, sha256: SHA });
    expect(readPendingRecord(recordFile())).toEqual({ storageUrl: BLOB, sha256: SHA });
  });

  test("no record: undefined", () => {
    expect(readPendingRecord(recordFile())).toBeUndefined();
  });

  test.each([
    ["a sha256 too short", { storageUrl: BLOB, sha256: SHA.slice(1) }],
    ["a sha256 in upper case", { storageUrl: BLOB, sha256: SHA.toUpperCase() }],
    ["a sha256 that is not hex", { storageUrl: BLOB, sha256: `${SHA.slice(1)}g` }],
    ["an empty sha256", { storageUrl: BLOB, sha256: "" }],
    ["a null sha256", { storageUrl: BLOB, sha256: null }],
    ["a numeric sha256", { storageUrl: BLOB, sha256: 123 }],
    ["an http storageUrl", { storageUrl: BLOB.replace("https:", "http:"), sha256: SHA }],
    ["no storageUrl", { sha256: SHA }],
    ["a storageUrl that is not a string", { storageUrl: 42 }],
  ])("a record with %s is not ours: undefined", (_what, record) => {
    writeRaw(JSON.stringify(record));
    expect(readPendingRecord(recordFile())).toBeUndefined();
  });

  test.each([
    ["not JSON", "{storageUrl:"],
    ["JSON null", "null"],
    ["empty", ""],
  ])("a file that is %s: undefined", (_what, text) => {
    writeRaw(text);
    expect(readPendingRecord(recordFile())).toBeUndefined();
  });
});

describe("removePendingRecord", () => {
  test("removes the record; removing none is no error", () => {
    writePendingRecord(recordFile(), { storageUrl: BLOB });
    removePendingRecord(recordFile());
    expect(fs.existsSync(recordFile())).toBe(false);
    expect(() => removePendingRecord(recordFile())).not.toThrow();
  });
});

describe("withoutQuery", () => {
  test.each([
    [`${BLOB}?sv=1&sig=abc%3D`, BLOB],
    [`${BLOB}#x`, BLOB],
    [BLOB, BLOB],
  ])("%s -> %s", (url, expected) => {
    expect(withoutQuery(url)).toBe(expected);
  });
});
