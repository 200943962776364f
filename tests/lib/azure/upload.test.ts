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
  await azurite.stop();
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
