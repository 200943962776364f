import { createCipheriv, createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { staticTokenCredential } from "../../../lib/azure/credentials";
import {
  blockId,
  hasSas,
  readBlobDigest,
  redactUrl,
  uploadPackage,
  type GrowingFile,
  type UploadOptions,
  type UploadProgress,
} from "../../../lib/azure/upload";
import {
  fakeEntraToken,
  startAzurite,
  startFaultProxy,
  type Azurite,
  type FaultDecision,
  type FaultProxy,
  type ProxiedRequest,
} from "../../../standins/azurite";

const MiB = 1024 * 1024;
const CONTAINER = "app-ffmpeg-0123456789abcdef";
const FAST_RETRY = { maxTries: 3, retryDelayInMs: 20, maxRetryDelayInMs: 50 };

/**
 * Deterministic bytes, so every run uploads the same content: the AES-256-CTR keystream keyed by
 * the seed's sha256 (pseudo-random, so no two blocks are alike; 10 MiB in milliseconds).
 */
function bytes(length: number, seed: string): Buffer {
  const key = createHash("sha256").update(seed).digest();
  return createCipheriv("aes-256-ctr", key, Buffer.alloc(16)).update(Buffer.alloc(length));
}
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

let azurite: Azurite;
let dir: string;
let blobCount = 0;

beforeAll(async () => {
  azurite = await startAzurite();
  await azurite.service.getContainerClient(CONTAINER).create();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-batch-upload-"));
});

afterAll(async () => {
  await azurite?.stop(); // undefined when startup failed: its own error is the one reported
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh blob name and a zip-sized file of `size` bytes. */
function fixture(size: number, seed = "package") {
  const name = `ffmpeg-1.0.${++blobCount}-2f6c.zip`;
  const content = bytes(size, seed);
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return { name, content, file, sha: sha256(content) };
}

async function committed(name: string): Promise<Buffer> {
  return azurite.service.getContainerClient(CONTAINER).getBlobClient(name).downloadToBuffer();
}

async function blockLists(name: string) {
  const list = await azurite.service
    .getContainerClient(CONTAINER)
    .getBlockBlobClient(name)
    .getBlockList("all");
  return {
    committed: (list.committedBlocks ?? []).length,
    uncommitted: (list.uncommittedBlocks ?? []).map((b) => b.name),
  };
}

/** The proxied requests as `METHOD comp`, e.g. `PUT block`. */
const shape = (reqs: ProxiedRequest[]) => reqs.map((r) => `${r.method} ${r.comp}`);

describe("pure helpers", () => {
  test.each([
    ["https://acct.blob.core.windows.net/app/x.zip?sv=2022-11-02&sig=abc%3D", true],
    ["https://acct.blob.core.windows.net/app/x.zip", false],
    ["https://acct.blob.core.windows.net/app/x.zip?sv=2022-11-02", false],
  ])("hasSas(%s) is %s", (url, expected) => {
    expect(hasSas(url)).toBe(expected);
  });

  test("redactUrl drops the SAS", () => {
    expect(redactUrl("https://acct.blob.core.windows.net/app/x.zip?sv=1&sig=secret")).toBe(
      "https://acct.blob.core.windows.net/app/x.zip",
    );
  });

  test("block ids are base64 of index and content hash, all the same length", () => {
    const hash = "ab".repeat(32);
    expect(Buffer.from(blockId(7, hash), "base64").toString()).toBe(`000007-${"ab".repeat(20)}`);
    expect(blockId(0, hash)).toHaveLength(64);
    expect(blockId(49_999, hash)).toHaveLength(64);
  });
});

describe("uploadPackage against Azurite", () => {
  let proxy: FaultProxy;
  let decide: (req: ProxiedRequest, index: number) => FaultDecision;

  beforeAll(async () => {
    proxy = await startFaultProxy(azurite, (req, i) => decide(req, i));
  });
  afterAll(() => proxy.close());
  beforeEach(() => {
    proxy.requests.length = 0;
    decide = () => "forward";
  });

  test("stages blocks in parallel, commits them with the sha256 and content type", async () => {
    const f = fixture(10 * MiB + 123);
    const progress: UploadProgress[] = [];
    const result = await uploadPackage({
      file: f.file,
      storageUrl: proxy.via(azurite.sasUrl(CONTAINER, f.name)),
      sha256: f.sha,
      blockSize: MiB,
      concurrency: 4,
      onProgress: (p) => progress.push(p),
    });
    expect(result).toEqual({
      bytes: 10 * MiB + 123,
      bytesSent: 10 * MiB + 123,
      blocks: 11,
      blocksReused: 0,
    });
    expect(shape(proxy.requests)).toEqual([
      "GET blocklist",
      ...Array(11).fill("PUT block"),
      "PUT blocklist",
    ]);
    expect(proxy.maxInFlight()).toBe(4);
    expect(progress).toHaveLength(11);
    expect(progress[10]).toEqual({ sent: 10 * MiB + 123, reused: 0, total: 10 * MiB + 123 });
    expect((await committed(f.name)).equals(f.content)).toBe(true);
    const props = await azurite.service
      .getContainerClient(CONTAINER)
      .getBlobClient(f.name)
      .getProperties();
    expect(props.metadata).toEqual({ sha256: f.sha });
    expect(props.contentType).toBe("application/zip");
    expect(await readBlobDigest(azurite.sasUrl(CONTAINER, f.name))).toEqual({
      bytes: 10 * MiB + 123,
      sha256: f.sha,
    });
  });

  test("retries a block that failed with a transient 503 and completes", async () => {
    const f = fixture(3 * MiB);
    let blocksSeen = 0;
    decide = (req) => (req.comp === "block" && ++blocksSeen === 2 ? { status: 503 } : "forward");
    const result = await uploadPackage({
      file: f.file,
      storageUrl: proxy.via(azurite.sasUrl(CONTAINER, f.name)),
      sha256: f.sha,
      blockSize: MiB,
      concurrency: 1,
      retry: FAST_RETRY,
    });
    expect(result.bytesSent).toBe(3 * MiB);
    expect(shape(proxy.requests)).toEqual([
      "GET blocklist",
      "PUT block",
      "PUT block", // answered 503 by the proxy
      "PUT block", // the SDK's retry of the same block
      "PUT block",
      "PUT blocklist",
    ]);
    expect(proxy.requests[2].url).toBe(proxy.requests[3].url);
    expect((await committed(f.name)).equals(f.content)).toBe(true);
  });

  test("retries a dropped connection", async () => {
    const f = fixture(2 * MiB);
    let blocksSeen = 0;
    decide = (req) => (req.comp === "block" && ++blocksSeen === 1 ? "reset" : "forward");
    await uploadPackage({
      file: f.file,
      storageUrl: proxy.via(azurite.sasUrl(CONTAINER, f.name)),
      sha256: f.sha,
      blockSize: MiB,
      concurrency: 1,
      retry: FAST_RETRY,
    });
    expect(shape(proxy.requests)).toEqual([
      "GET blocklist",
      "PUT block",
      "PUT block",
      "PUT block",
      "PUT blocklist",
    ]);
    expect((await committed(f.name)).equals(f.content)).toBe(true);
  });

  test("gives up after maxTries and never commits a partial blob", async () => {
    const f = fixture(3 * MiB);
    let blocksSeen = 0;
    decide = (req) => (req.comp === "block" && ++blocksSeen >= 2 ? { status: 503 } : "forward");
    await expect(
      uploadPackage({
        file: f.file,
        storageUrl: proxy.via(azurite.sasUrl(CONTAINER, f.name)),
        sha256: f.sha,
        blockSize: MiB,
        concurrency: 1,
        retry: FAST_RETRY,
      }),
    ).rejects.toMatchObject({ statusCode: 503 });
    expect(shape(proxy.requests)).toEqual([
      "GET blocklist",
      "PUT block",
      "PUT block",
      "PUT block",
      "PUT block", // three tries of the second block, then the upload stops
    ]);
    expect(await readBlobDigest(azurite.sasUrl(CONTAINER, f.name))).toBeUndefined();
    expect(await blockLists(f.name)).toEqual({
      committed: 0,
      uncommitted: [blockId(0, sha256(f.content.subarray(0, MiB)))],
    });
  });

  test("an interrupted upload leaves staged blocks that a re-run reuses", async () => {
    const f = fixture(5 * MiB + 7);
    const controller = new AbortController();
    await expect(
      uploadPackage({
        file: f.file,
        storageUrl: proxy.via(azurite.sasUrl(CONTAINER, f.name)),
        sha256: f.sha,
        blockSize: MiB,
        concurrency: 1,
        abortSignal: controller.signal,
        onProgress: (p) => {
          if (p.sent === 3 * MiB) controller.abort(new Error("interrupted by the test"));
        },
      }),
    ).rejects.toThrow("interrupted by the test");
    expect(await readBlobDigest(azurite.sasUrl(CONTAINER, f.name))).toBeUndefined();
    const staged = await blockLists(f.name);
    expect(staged).toEqual({
      committed: 0,
      uncommitted: [0, 1, 2].map((i) =>
        blockId(i, sha256(f.content.subarray(i * MiB, (i + 1) * MiB))),
      ),
    });

    proxy.requests.length = 0;
    const progress: UploadProgress[] = [];
    const result = await uploadPackage({
      file: f.file,
      storageUrl: proxy.via(azurite.sasUrl(CONTAINER, f.name)),
      sha256: f.sha,
      blockSize: MiB,
      concurrency: 1,
      onProgress: (p) => progress.push(p),
    });
    expect(result).toEqual({
      bytes: 5 * MiB + 7,
      bytesSent: 2 * MiB + 7,
      blocks: 6,
      blocksReused: 3,
    });
    expect(shape(proxy.requests)).toEqual([
      "GET blocklist",
      "PUT block",
      "PUT block",
      "PUT block",
      "PUT blocklist",
    ]);
    expect(progress.at(-1)).toEqual({ sent: 2 * MiB + 7, reused: 3 * MiB, total: 5 * MiB + 7 });
    expect((await committed(f.name)).equals(f.content)).toBe(true);
  });

  test("a re-run with different content re-stages only the blocks whose content changed", async () => {
    const first = fixture(3 * MiB, "first");
    const controller = new AbortController();
    await expect(
      uploadPackage({
        file: first.file,
        storageUrl: azurite.sasUrl(CONTAINER, first.name),
        sha256: first.sha,
        blockSize: MiB,
        concurrency: 1,
        abortSignal: controller.signal,
        onProgress: (p) => {
          if (p.sent === 2 * MiB) controller.abort(new Error("stop"));
        },
      }),
    ).rejects.toThrow("stop");
    // Same blob, new content: block 0 unchanged, block 1 changed, block 2 new.
    const changed = Buffer.from(first.content);
    changed[MiB + 5] ^= 0xff;
    fs.writeFileSync(first.file, changed);
    const result = await uploadPackage({
      file: first.file,
      storageUrl: proxy.via(azurite.sasUrl(CONTAINER, first.name)),
      sha256: sha256(changed),
      blockSize: MiB,
      concurrency: 1,
    });
    expect(result).toEqual({ bytes: 3 * MiB, bytesSent: 2 * MiB, blocks: 3, blocksReused: 1 });
    expect((await committed(first.name)).equals(changed)).toBe(true);
  });
});

describe("uploadPackage with an Entra token (storageUrl without a SAS)", () => {
  test("authenticates with the bearer token", async () => {
    const f = fixture(MiB + 1);
    const result = await uploadPackage({
      file: f.file,
      storageUrl: azurite.blobUrl(CONTAINER, f.name),
      sha256: f.sha,
      credential: staticTokenCredential(fakeEntraToken()),
      blockSize: MiB,
    });
    expect(result.blocks).toBe(2);
    expect((await committed(f.name)).equals(f.content)).toBe(true);
  });

  test("a token storage does not accept fails at once, saying which token is needed", async () => {
    const f = fixture(100);
    const waits: number[] = [];
    const url = azurite.blobUrl(CONTAINER, f.name);
    await expect(
      uploadPackage({
        file: f.file,
        storageUrl: url,
        sha256: f.sha,
        credential: staticTokenCredential(
          fakeEntraToken({ audience: "https://management.azure.com" }),
        ),
        retry: FAST_RETRY,
        onAccessWait: (ms) => waits.push(ms),
      }),
    ).rejects.toMatchObject({
      statusCode: 403,
      code: "AuthenticationFailed",
      message: `storage refused the token for ${url} (403 AuthenticationFailed): the upload needs an Entra token for https://storage.azure.com/.default; with AZURE_ACCESS_TOKEN (a Resource Manager token) also set AZURE_STORAGE_ACCESS_TOKEN`,
    });
    expect(waits).toEqual([]);
  });

  test("waits out 403s while a new role assignment applies, then uploads", async () => {
    const f = fixture(100);
    // Storage refuses the first two requests, as Azure does until a fresh role assignment applies.
    const rbac = await startFaultProxy(
      azurite,
      (_req, i) => (i < 2 ? { status: 403 } : "forward"),
      {
        tls: true,
      },
    );
    try {
      const waits: number[] = [];
      const result = await uploadPackage({
        file: f.file,
        storageUrl: rbac.via(azurite.blobUrl(CONTAINER, f.name)),
        sha256: f.sha,
        credential: staticTokenCredential(fakeEntraToken()),
        retry: FAST_RETRY,
        accessWaitMs: 10_000,
        accessPollMs: 50,
        onAccessWait: (ms) => waits.push(ms),
      });
      expect(waits).toHaveLength(2);
      expect(rbac.requests.map((r) => r.comp)).toEqual([
        "blocklist",
        "blocklist",
        "blocklist",
        "block",
        "blocklist",
      ]);
      expect(result).toEqual({ bytes: 100, bytesSent: 100, blocks: 1, blocksReused: 0 });
      expect((await committed(f.name)).equals(f.content)).toBe(true);
    } finally {
      await rbac.close();
    }
  });

  test("gives up on 403 once the access wait is over", async () => {
    const f = fixture(100);
    const rbac = await startFaultProxy(azurite, () => ({ status: 403 }), { tls: true });
    try {
      const waits: number[] = [];
      await expect(
        uploadPackage({
          file: f.file,
          storageUrl: rbac.via(azurite.blobUrl(CONTAINER, f.name)),
          sha256: f.sha,
          credential: staticTokenCredential(fakeEntraToken()),
          retry: FAST_RETRY,
          accessWaitMs: 200,
          accessPollMs: 50,
          onAccessWait: (ms) => waits.push(ms),
        }),
      ).rejects.toMatchObject({ statusCode: 403, code: "AuthorizationPermissionMismatch" });
      // How many retries fit in the 200 ms depends on the machine's load; the rule does not:
      // each retry starts only while one more 50 ms pause still ends within the wait, and is
      // followed by one more request.
      expect(waits.length).toBeLessThanOrEqual(4);
      for (const waited of waits) expect(waited + 50).toBeLessThanOrEqual(200);
      expect(rbac.requests).toHaveLength(waits.length + 1);
    } finally {
      await rbac.close();
    }
  });

  test("without a credential, fails before any request with the reason", async () => {
    const f = fixture(100);
    await expect(
      uploadPackage({
        file: f.file,
        storageUrl: azurite.blobUrl(CONTAINER, f.name),
        sha256: f.sha,
      }),
    ).rejects.toThrow(
      `the storage URL ${azurite.blobUrl(CONTAINER, f.name)} carries no SAS (managed-identity auto-storage): ` +
        "an Entra token with Storage Blob Data Contributor on the storage account is needed",
    );
  });
});

describe("readBlobDigest: one HEAD (Get Blob Properties)", () => {
  let proxy: FaultProxy;
  let decide: (req: ProxiedRequest, index: number) => FaultDecision = () => "forward";
  beforeAll(async () => {
    proxy = await startFaultProxy(azurite, (req, i) => decide(req, i), { tls: true });
  });
  afterAll(() => proxy.close());
  beforeEach(() => {
    proxy.requests.length = 0;
    decide = () => "forward";
  });

  const upload = async (size: number) => {
    const f = fixture(size);
    await uploadPackage({
      file: f.file,
      storageUrl: azurite.sasUrl(CONTAINER, f.name),
      sha256: f.sha,
    });
    return f;
  };

  test("with a SAS: the size and the sha256 metadata, in one HEAD", async () => {
    const f = await upload(MiB + 5);
    expect(await readBlobDigest(proxy.via(azurite.sasUrl(CONTAINER, f.name)))).toEqual({
      bytes: MiB + 5,
      sha256: f.sha,
    });
    expect(shape(proxy.requests)).toEqual(["HEAD "]);
  });

  test("without a SAS: the Entra token of the credential", async () => {
    const f = await upload(300);
    const url = proxy.via(azurite.blobUrl(CONTAINER, f.name));
    expect(await readBlobDigest(url, staticTokenCredential(fakeEntraToken()))).toEqual({
      bytes: 300,
      sha256: f.sha,
    });
    // The token is what authenticates: one storage does not accept is refused.
    const wrong = staticTokenCredential(
      fakeEntraToken({ audience: "https://management.azure.com" }),
    );
    await expect(readBlobDigest(url, wrong, FAST_RETRY)).rejects.toMatchObject({
      statusCode: 403,
      code: "AuthenticationFailed",
    });
  });

  test("a blob without the metadata: its size and no sha256", async () => {
    const name = `plain-${++blobCount}.zip`;
    await azurite.service.getContainerClient(CONTAINER).getBlockBlobClient(name).upload("abc", 3);
    expect(await readBlobDigest(azurite.sasUrl(CONTAINER, name))).toEqual({
      bytes: 3,
      sha256: undefined,
    });
  });

  test("no blob: undefined", async () => {
    expect(await readBlobDigest(azurite.sasUrl(CONTAINER, "never-uploaded.zip"))).toBeUndefined();
  });

  test("a transient 503 is retried", async () => {
    const f = await upload(10);
    decide = (_req, i) => (i === 0 ? { status: 503 } : "forward");
    expect(
      await readBlobDigest(proxy.via(azurite.sasUrl(CONTAINER, f.name)), undefined, FAST_RETRY),
    ).toEqual({ bytes: 10, sha256: f.sha });
    expect(shape(proxy.requests)).toEqual(["HEAD ", "HEAD "]);
  });

  test("a refusal is a RestError with the status and storage's error code, SAS redacted", async () => {
    const f = await upload(10);
    decide = () => ({ status: 403 });
    const url = proxy.via(azurite.sasUrl(CONTAINER, f.name));
    const err = await readBlobDigest(url, undefined, FAST_RETRY).catch((e: unknown) => e);
    expect(err).toMatchObject({
      name: "RestError",
      statusCode: 403,
      code: "AuthorizationPermissionMismatch",
      message: `reading the properties of ${redactUrl(url)} failed: HTTP 403 AuthorizationPermissionMismatch`,
    });
    expect(shape(proxy.requests)).toEqual(["HEAD "]);
  });

  test("without a SAS or a credential, fails before any request with the reason", async () => {
    const url = proxy.via(azurite.blobUrl(CONTAINER, "x.zip"));
    await expect(readBlobDigest(url)).rejects.toThrow(
      `the storage URL ${url} carries no SAS (managed-identity auto-storage): ` +
        "an Entra token with Storage Blob Data Contributor on the storage account is needed",
    );
    expect(proxy.requests).toEqual([]);
  });
});

/** A promise with its resolve and reject at hand, to drive an upload step by step. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * A file the test writes in steps, with the zip writer's rule for what is final (lib/package/zip.ts
 * ZipProgress): a range before `upTo` that does not overlap the reserved local header `hole`.
 * Every byte not final yet holds garbage on disk, so a block read before `until` said it was
 * final would reach the blob (and its block id) with the wrong bytes.
 */
class SteppedFile implements GrowingFile {
  /** The `end` of every `until` call, in call order. */
  readonly asked: number[] = [];
  private upTo = 0;
  private hole?: [number, number];
  private size?: number;
  private failure?: Error;
  private waiters: {
    start: number;
    end: number;
    resolve: (v: { complete?: number }) => void;
    reject: (e: Error) => void;
  }[] = [];
  private caughtUp: { n: number; resolve: () => void }[] = [];

  constructor(
    readonly partialPath: string,
    readonly content: Buffer,
  ) {
    fs.writeFileSync(partialPath, bytes(content.length, `garbage ${partialPath}`));
  }

  until(end: number, start: number): Promise<{ complete?: number }> {
    this.asked.push(end);
    return new Promise((resolve, reject) => {
      this.waiters.push({ start, end, resolve, reject });
      this.settle();
    });
  }

  /** Writes the final bytes before `upTo`, all but the `hole`, which keeps its garbage. */
  advance(upTo: number, hole?: [number, number]) {
    this.write(0, upTo);
    if (hole) fs.writeFileSync(this.partialPath, this.garbageOf(hole), { flag: "r+" });
    this.upTo = upTo;
    this.hole = hole;
    this.settle();
  }

  complete() {
    this.write(0, this.content.length);
    this.size = this.content.length;
    this.settle();
  }

  fail(err: Error) {
    this.failure = err;
    this.settle();
  }

  /**
   * Resolves once `n` calls of `until` wait for bytes that are not final: every worker of an
   * upload with concurrency `n` has staged all it could and waits for the file.
   */
  waiting(n: number): Promise<void> {
    return new Promise((resolve) => {
      this.caughtUp.push({ n, resolve });
      this.settle();
    });
  }

  private write(from: number, to: number) {
    const fd = fs.openSync(this.partialPath, "r+");
    try {
      fs.writeSync(fd, this.content, from, to - from, from);
    } finally {
      fs.closeSync(fd);
    }
  }

  private garbageOf([start, end]: [number, number]): Buffer {
    const all = fs.readFileSync(this.partialPath);
    const junk = Buffer.from(all.subarray(start, end)).map((b) => b ^ 0xff);
    return Buffer.concat([all.subarray(0, start), junk, all.subarray(end)]);
  }

  private final(start: number, end: number): boolean {
    const hole = this.hole;
    return end <= this.upTo && (hole === undefined || end <= hole[0] || start >= hole[1]);
  }

  private settle() {
    this.waiters = this.waiters.filter((w) => {
      if (this.failure) w.reject(this.failure);
      else if (this.size !== undefined) w.resolve({ complete: this.size });
      else if (this.final(w.start, w.end)) w.resolve({});
      else return true;
      return false;
    });
    this.caughtUp = this.caughtUp.filter((c) => {
      if (this.waiters.length < c.n) return true;
      c.resolve();
      return false;
    });
  }
}

describe("uploadPackage of a file still being written", () => {
  const KiB = 1024;
  const BLOCK = 256 * KiB;
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await startFaultProxy(azurite, () => "forward");
  });
  afterAll(() => proxy.close());
  beforeEach(() => {
    proxy.requests.length = 0;
  });

  /** A fresh blob name and a file of `size` bytes, written by the test in steps. */
  function growing(size: number) {
    const f = fixture(size, `growing ${blobCount}`);
    return { ...f, growing: new SteppedFile(`${f.file}.partial`, f.content) };
  }

  /** Uploads `f` as it grows, in BLOCK blocks, two in flight, as every test below does. */
  const uploadGrowing = (
    f: ReturnType<typeof growing>,
    opts: Pick<UploadOptions, "sha256" | "onProgress">,
  ) =>
    uploadPackage({
      file: f.growing,
      storageUrl: proxy.via(azurite.sasUrl(CONTAINER, f.name)),
      blockSize: BLOCK,
      concurrency: 2,
      ...opts,
    });

  /** The id of block `index` of `content`, as the uploader derives it. */
  const idOf = (content: Buffer, index: number) =>
    blockId(index, sha256(content.subarray(index * BLOCK, (index + 1) * BLOCK)));
  const ids = (content: Buffer, count: number) =>
    Array.from({ length: count }, (_, i) => idOf(content, i));
  const idsAt = (content: Buffer, indexes: number[]) => indexes.map((i) => idOf(content, i));

  /**
   * The blob's uncommitted block ids staged so far, in index order ([] when it has none yet).
   * Storage lists them in the order they arrived, which parallel workers do not fix.
   */
  async function staged(name: string): Promise<string[]> {
    const index = (id: string) => Buffer.from(id, "base64").toString();
    try {
      return (await blockLists(name)).uncommitted.sort((a, b) => index(a).localeCompare(index(b)));
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return [];
      throw err;
    }
  }

  async function blobStatus(name: string): Promise<number> {
    return azurite.service
      .getContainerClient(CONTAINER)
      .getBlobClient(name)
      .getProperties()
      .then(
        () => 200,
        (err: { statusCode?: number }) => err.statusCode ?? 0,
      );
  }

  test("stages each block once it is final, the one across a hole once it is filled, and commits the whole file", async () => {
    const size = 12 * BLOCK + 1000; // 13 blocks, the last one partial
    const f = growing(size);
    const sha = deferred<string>();
    const progress: UploadProgress[] = [];
    const lastSent = deferred<void>();
    const upload = uploadGrowing(f, {
      sha256: sha.promise,
      onProgress: (p) => {
        progress.push(p);
        if (p.sent === size) lastSent.resolve();
      },
    });

    await f.growing.waiting(2);
    expect(f.growing.asked).toEqual([BLOCK, 2 * BLOCK]);
    expect(await staged(f.name)).toEqual([]);

    // A second entry's local header is reserved at 600,000 while its data is written after it:
    // blocks 0 and 1 (up to 524,288) and 3 and 4 (786,432 to 1,310,720, after the header) are
    // final; block 2 holds the header, and its worker waits while the other goes on.
    f.growing.advance(1_400_000, [600_000, 600_030]);
    await f.growing.waiting(2);
    expect(await staged(f.name)).toEqual(idsAt(f.content, [0, 1, 3, 4]));

    // More data behind the open header: the blocks after it go up, block 2 still waits.
    f.growing.advance(2_900_000, [600_000, 600_030]);
    await f.growing.waiting(2);
    expect(await staged(f.name)).toEqual(idsAt(f.content, [0, 1, 3, 4, 5, 6, 7, 8, 9, 10]));

    // The header is filled: block 2 goes up; blocks 0-10 (up to 2,883,584) are staged.
    f.growing.advance(2_900_000);
    await f.growing.waiting(2);
    expect(await staged(f.name)).toEqual(ids(f.content, 11));
    expect(f.growing.asked).toEqual(Array.from({ length: 13 }, (_, i) => (i + 1) * BLOCK));

    f.growing.complete();
    await lastSent.promise;
    // Every block is staged; the commit waits for the sha256.
    expect(shape(proxy.requests)).toEqual(["GET blocklist", ...Array(13).fill("PUT block")]);
    sha.resolve(f.sha);
    expect(await upload).toEqual({ bytes: size, bytesSent: size, blocks: 13, blocksReused: 0 });

    expect(shape(proxy.requests)).toEqual([
      "GET blocklist",
      ...Array(13).fill("PUT block"),
      "PUT blocklist",
    ]);
    expect(f.growing.asked).toEqual(Array.from({ length: 13 }, (_, i) => (i + 1) * BLOCK));
    expect((await committed(f.name)).equals(f.content)).toBe(true);
    const blob = azurite.service.getContainerClient(CONTAINER).getBlockBlobClient(f.name);
    const props = await blob.getProperties();
    expect(props.metadata).toEqual({ sha256: f.sha });
    expect(props.contentType).toBe("application/zip");
    const list = await blob.getBlockList("committed");
    expect(list.committedBlocks?.map((b) => b.name)).toEqual(ids(f.content, 13));
    expect(list.committedBlocks?.map((b) => b.size)).toEqual([...Array(12).fill(BLOCK), 1000]);

    // The size is unknown (total 0) until the file is complete, then it is the final size.
    expect(progress.map((p) => p.total)).toEqual([...Array(11).fill(0), size, size]);
    expect(progress.slice(0, 11).map((p) => p.sent)).toEqual(
      Array.from({ length: 11 }, (_, i) => (i + 1) * BLOCK),
    );
    expect(progress.at(-1)).toEqual({ sent: size, reused: 0, total: size });
  });

  test("a header hole at offset 0 holds back only the block that holds it", async () => {
    const size = 3 * BLOCK + 10;
    const f = growing(size);
    const upload = uploadGrowing(f, { sha256: f.sha });
    f.growing.advance(size, [0, 30]);
    await f.growing.waiting(2);
    expect(await staged(f.name)).toEqual(idsAt(f.content, [1, 2]));
    f.growing.advance(size);
    await f.growing.waiting(2);
    expect(await staged(f.name)).toEqual(ids(f.content, 3));
    f.growing.complete();
    expect(await upload).toEqual({ bytes: size, bytesSent: size, blocks: 4, blocksReused: 0 });
    expect((await committed(f.name)).equals(f.content)).toBe(true);
  });

  test("a file that ends on a block boundary: no empty block after it", async () => {
    const size = 4 * BLOCK;
    const f = growing(size);
    const progress: UploadProgress[] = [];
    const upload = uploadGrowing(f, {
      sha256: f.sha,
      onProgress: (p) => progress.push(p),
    });
    // All bytes final, the size not yet known: the workers wait on blocks 4 and 5.
    f.growing.advance(size);
    await f.growing.waiting(2);
    expect(await staged(f.name)).toEqual(ids(f.content, 4));
    expect(f.growing.asked).toEqual(Array.from({ length: 6 }, (_, i) => (i + 1) * BLOCK));
    f.growing.complete();
    expect(await upload).toEqual({ bytes: size, bytesSent: size, blocks: 4, blocksReused: 0 });
    expect(shape(proxy.requests)).toEqual([
      "GET blocklist",
      ...Array(4).fill("PUT block"),
      "PUT blocklist",
    ]);
    const list = await azurite.service
      .getContainerClient(CONTAINER)
      .getBlockBlobClient(f.name)
      .getBlockList("committed");
    expect(list.committedBlocks?.map((b) => b.name)).toEqual(ids(f.content, 4));
    expect((await committed(f.name)).equals(f.content)).toBe(true);
    expect(progress.map((p) => p.total)).toEqual([0, 0, 0, 0]);
  });

  test("a file smaller than one block: one block", async () => {
    const f = growing(1000);
    const progress: UploadProgress[] = [];
    const upload = uploadGrowing(f, {
      sha256: f.sha,
      onProgress: (p) => progress.push(p),
    });
    await f.growing.waiting(2);
    f.growing.complete();
    expect(await upload).toEqual({ bytes: 1000, bytesSent: 1000, blocks: 1, blocksReused: 0 });
    expect(f.growing.asked).toEqual([BLOCK, 2 * BLOCK]);
    expect(shape(proxy.requests)).toEqual(["GET blocklist", "PUT block", "PUT blocklist"]);
    expect((await committed(f.name)).equals(f.content)).toBe(true);
    expect(progress).toEqual([{ sent: 1000, reused: 0, total: 1000 }]);
  });

  test("a build that fails once the file is written: no commit, no blob", async () => {
    const size = 2 * BLOCK + 5;
    const f = growing(size);
    const sha = deferred<string>();
    const lastSent = deferred<void>();
    const upload = uploadGrowing(f, {
      sha256: sha.promise,
      onProgress: (p) => p.sent === size && lastSent.resolve(),
    });
    f.growing.complete();
    await lastSent.promise;
    const failure = new Error("the zip build failed: ENOSPC");
    sha.reject(failure);
    await expect(upload).rejects.toBe(failure);
    expect(shape(proxy.requests)).toEqual(["GET blocklist", ...Array(3).fill("PUT block")]);
    expect(await blobStatus(f.name)).toBe(404);
    expect(await staged(f.name)).toEqual(ids(f.content, 3));
  });

  test("a build that fails while the file is written: the upload rejects with its error", async () => {
    const size = 6 * BLOCK;
    const f = growing(size);
    const failure = new Error("the zip build failed: EIO");
    // As lib/publish passes it: the build's sha256, which fails with the build.
    const sha = deferred<string>();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    const upload = uploadGrowing(f, { sha256: sha.promise });
    f.growing.advance(2 * BLOCK + 100);
    await f.growing.waiting(2);
    expect(await staged(f.name)).toEqual(ids(f.content, 2));
    f.growing.fail(failure);
    sha.reject(failure);
    await expect(upload).rejects.toBe(failure);
    expect(shape(proxy.requests)).toEqual(["GET blocklist", "PUT block", "PUT block"]);
    expect(await blobStatus(f.name)).toBe(404);
    // The sha256 the upload never reached is not left as an unhandled rejection (Node 15+
    // ends the process on one).
    process.off("unhandledRejection", onUnhandled);
    expect(unhandled).toEqual([]);
  });
});
