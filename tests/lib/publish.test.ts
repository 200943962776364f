import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as yazl from "yazl";
import { staticTokenCredential } from "../../lib/credentials";
import {
  immutableVersionMessage,
  publishPackage,
  suggestNextVersion,
  unverifiableVersionMessage,
  type PackageFile,
  type PublishEvent,
  type PublishOptions,
} from "../../lib/publish";
import {
  fakeEntraToken,
  startAzurite,
  startFaultProxy,
  type Azurite,
  type FaultProxy,
} from "../support/azurite";
import {
  startArmBatchStandIn,
  type ArmBatchStandIn,
  type ArmBatchStandInOptions,
} from "../support/armBatchStandIn";

const SUB = "00000000-0000-0000-0000-0000000000aa";
const RG = "rg-hpc";
const ACCOUNT = "bahpc01";
const APP_ID = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Batch/batchAccounts/${ACCOUNT}/applications/ffmpeg`;
const MiB = 1024 * 1024;

let azurite: Azurite;
let proxy: FaultProxy;
let dir: string;
const token = fakeEntraToken();
const credential = staticTokenCredential(token);
let arm: ArmBatchStandIn | undefined;

beforeAll(async () => {
  azurite = await startAzurite();
  proxy = await startFaultProxy(azurite, () => "forward");
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-batch-publish-"));
});
afterAll(async () => {
  await proxy.close();
  await azurite.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  proxy.requests.length = 0;
});
afterEach(async () => {
  if (arm) {
    expect(arm.violations).toEqual([]);
    await arm.close();
    arm = undefined;
  }
});

/** An ARM stand-in whose storageUrls go through the counting proxy (SAS mode by default). */
async function standIn(extra: Partial<ArmBatchStandInOptions> = {}): Promise<ArmBatchStandIn> {
  arm = await startArmBatchStandIn({
    azurite,
    subscriptionId: SUB,
    resourceGroup: RG,
    account: ACCOUNT,
    token,
    rewriteStorageUrl: (u) => proxy.via(u),
    ...extra,
  });
  return arm;
}

/** A real zip (one stored file of `size` pseudo-random bytes), as buildPackage would describe it. */
async function zip(name: string, size: number, seed = name): Promise<PackageFile> {
  const content = Buffer.alloc(size);
  let block = createHash("sha256").update(seed).digest();
  for (let i = 0; i < size; i += 32) {
    block.copy(content, i, 0, Math.min(32, size - i));
    block = createHash("sha256").update(block).digest();
  }
  const file = path.join(dir, `${name}.zip`);
  const z = new yazl.ZipFile();
  z.addBuffer(content, "bin/tool", {
    mtime: new Date(1980, 0, 1),
    mode: 0o100755,
    compress: false,
  });
  z.end();
  await new Promise<void>((resolve, reject) =>
    z.outputStream.pipe(fs.createWriteStream(file)).on("close", resolve).on("error", reject),
  );
  const bytes = fs.readFileSync(file);
  return {
    path: file,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    bytes: bytes.length,
  };
}

function options(a: ArmBatchStandIn, pkg: PackageFile, extra: Partial<PublishOptions> = {}) {
  const events: PublishEvent[] = [];
  const opts: PublishOptions = {
    target: {
      endpoint: a.url,
      credential,
      subscriptionId: SUB,
      resourceGroup: RG,
      account: ACCOUNT,
    },
    storageCredential: credential,
    applicationId: "ffmpeg",
    version: "1.0.0",
    package: pkg,
    upload: { blockSize: MiB, concurrency: 4, retry: { maxTries: 2, retryDelayInMs: 10 } },
    activation: { pollIntervalMs: 10, timeoutMs: 5000 },
    onEvent: (e) => events.push(e),
    ...extra,
  };
  return { opts, events };
}

const steps = (events: PublishEvent[]) =>
  events.flatMap((e) => (e.kind === "step" ? [e.message] : []));
const tail = (p: string) => p.slice(p.indexOf(ACCOUNT) + ACCOUNT.length) || "/";
/**
 * ARM requests as `METHOD <path after the account>`. A publish starts with the application and
 * version reads sent together, so their arrival order varies: those two come sorted.
 */
const armCalls = (a: ArmBatchStandIn) => {
  const calls = a.requests.map((r) => `${r.method} ${tail(r.path)}`);
  return [...calls.slice(0, 2).sort(), ...calls.slice(2)];
};
/** The body of the one request with this method and path. */
const bodyOf = (a: ArmBatchStandIn, method: string, path: string) => {
  const found = a.requests.filter((r) => r.method === method && tail(r.path) === path);
  expect(found).toHaveLength(1);
  return found[0].body;
};
const storageCalls = () => proxy.requests.map((r) => `${r.method} ${r.comp}`);

async function blobOf(a: ArmBatchStandIn, version: string) {
  const v = a.applications.get("ffmpeg")!.versions.get(version)!;
  const blob = azurite.service.getContainerClient(v.container).getBlobClient(v.blob);
  return { state: v.state, blob };
}

describe("publishPackage", () => {
  test("first publish: creates the application and version, uploads, activates, sets the default", async () => {
    const a = await standIn();
    const pkg = await zip("first", 3 * MiB + 100);
    const { opts, events } = options(a, pkg, { displayName: "FFmpeg", setDefault: true });
    const result = await publishPackage(opts);
    expect(result).toEqual({
      applicationId: "ffmpeg",
      version: "1.0.0",
      state: "Active",
      outcome: "published",
      sha256: pkg.sha256,
      bytes: pkg.bytes,
      bytesUploaded: pkg.bytes,
      activated: true,
      defaultVersion: "1.0.0",
      deletedVersions: [],
      applicationResourceId: APP_ID,
      packageReference: { id: APP_ID, version: "1.0.0" },
    });
    expect(armCalls(a)).toEqual([
      "GET /applications/ffmpeg",
      "GET /applications/ffmpeg/versions/1.0.0",
      "PUT /applications/ffmpeg",
      "PUT /applications/ffmpeg/versions/1.0.0",
      "POST /applications/ffmpeg/versions/1.0.0/activate",
      "PATCH /applications/ffmpeg",
    ]);
    expect(bodyOf(a, "PUT", "/applications/ffmpeg")).toEqual({
      properties: { allowUpdates: false, displayName: "FFmpeg" },
    });
    expect(bodyOf(a, "PUT", "/applications/ffmpeg/versions/1.0.0")).toBeUndefined();
    expect(bodyOf(a, "POST", "/applications/ffmpeg/versions/1.0.0/activate")).toEqual({
      format: "zip",
    });
    expect(bodyOf(a, "PATCH", "/applications/ffmpeg")).toEqual({
      properties: { defaultVersion: "1.0.0" },
    });
    expect(a.requests.every((r) => r.query.get("api-version") === "2024-07-01")).toBe(true);
    expect(storageCalls()).toEqual([
      "GET blocklist",
      ...Array(4).fill("PUT block"),
      "PUT blocklist",
    ]);
    const { state, blob } = await blobOf(a, "1.0.0");
    expect(state).toBe("Active");
    expect((await blob.downloadToBuffer()).equals(fs.readFileSync(pkg.path))).toBe(true);
    expect((await blob.getProperties()).metadata).toEqual({ sha256: pkg.sha256 });
    const messages = steps(events);
    expect(messages).toEqual([
      "application ffmpeg: created (allowUpdates false)",
      "version 1.0.0: created (Pending)",
      expect.stringMatching(
        /^upload: 3\.1 MB sent in \d+\.\d s \(\d+\.\d MB\/s\), 4 blocks, 0 reused$/,
      ),
      "activate: version 1.0.0 is Active",
      "default version: 1.0.0",
    ]);
    const progress = events.filter((e) => e.kind === "upload-progress");
    expect(progress).toHaveLength(4);
    expect(progress[3]).toEqual({
      kind: "upload-progress",
      sent: pkg.bytes,
      reused: 0,
      total: pkg.bytes,
    });
  });

  test("unchanged re-run without state: reads the blob's sha256, uploads nothing, activates nothing", async () => {
    const a = await standIn();
    const pkg = await zip("rerun", 2 * MiB);
    await publishPackage(options(a, pkg, { setDefault: true }).opts);
    a.requests.length = 0;
    proxy.requests.length = 0;
    const { opts, events } = options(a, pkg, { setDefault: true });
    const result = await publishPackage(opts);
    expect(result).toMatchObject({
      outcome: "unchanged",
      bytesUploaded: 0,
      activated: false,
      defaultVersion: "1.0.0",
    });
    expect(armCalls(a)).toEqual([
      "GET /applications/ffmpeg",
      "GET /applications/ffmpeg/versions/1.0.0",
    ]);
    expect(storageCalls()).toEqual(["HEAD "]);
    expect(steps(events)).toEqual([
      "application ffmpeg: exists",
      `version 1.0.0: already active with sha256 ${pkg.sha256.slice(0, 12)}; nothing to upload`,
    ]);
  });

  test("unchanged re-run with the sha256 from state: not even the blob is read", async () => {
    const a = await standIn({ storageUrlOnGet: false });
    const pkg = await zip("state", 1000);
    await publishPackage(options(a, pkg).opts);
    a.requests.length = 0;
    proxy.requests.length = 0;
    const result = await publishPackage(options(a, pkg, { knownSha256: pkg.sha256 }).opts);
    expect(result.outcome).toBe("unchanged");
    expect(armCalls(a)).toEqual([
      "GET /applications/ffmpeg",
      "GET /applications/ffmpeg/versions/1.0.0",
    ]);
    expect(storageCalls()).toEqual([]);
  });

  test("the same version with different content is refused with the bump message, nothing changes", async () => {
    const a = await standIn();
    const first = await zip("immutable-a", 5000);
    const second = await zip("immutable-b", 5000);
    await publishPackage(options(a, first).opts);
    a.requests.length = 0;
    await expect(publishPackage(options(a, second).opts)).rejects.toThrow(
      `application ffmpeg version 1.0.0 is already active with different content ` +
        `(active sha256 ${first.sha256.slice(0, 12)}, this zip ${second.sha256.slice(0, 12)}): ` +
        "published versions are immutable; bump the version (for example to 1.0.1) and publish again",
    );
    expect(armCalls(a)).toEqual([
      "GET /applications/ffmpeg",
      "GET /applications/ffmpeg/versions/1.0.0",
    ]);
    const { blob } = await blobOf(a, "1.0.0");
    expect((await blob.downloadToBuffer()).equals(fs.readFileSync(first.path))).toBe(true);
  });

  test("an active version whose sha256 cannot be read is refused, not guessed", async () => {
    const a = await standIn({ storageUrlOnGet: false });
    const pkg = await zip("unverifiable", 100);
    await publishPackage(options(a, pkg).opts);
    await expect(publishPackage(options(a, pkg).opts)).rejects.toThrow(
      unverifiableVersionMessage("ffmpeg", "1.0.0"),
    );
    expect(unverifiableVersionMessage("ffmpeg", "1.0.0")).toBe(
      "application ffmpeg version 1.0.0 is already active, but its sha256 cannot be read (the service " +
        "returned no storageUrl for it and no earlier run recorded one): hpc-batch will not guess " +
        "whether this zip is the same; publish a new version (for example 1.0.1)",
    );
  });

  test("an interrupted upload is never activated, and a re-run resumes and completes it", async () => {
    const a = await standIn();
    const pkg = await zip("interrupted", 4 * MiB);
    const controller = new AbortController();
    const first = options(a, pkg, {
      abortSignal: controller.signal,
      upload: { blockSize: MiB, concurrency: 1 },
      onEvent: (e) => {
        if (e.kind === "upload-progress" && e.sent === 2 * MiB)
          controller.abort(new Error("runner cancelled"));
      },
    });
    await expect(publishPackage(first.opts)).rejects.toThrow("runner cancelled");
    expect(a.counts["POST activate"]).toBeUndefined();
    const { state, blob } = await blobOf(a, "1.0.0");
    expect(state).toBe("Pending");
    expect(await blob.exists()).toBe(false);

    a.requests.length = 0;
    proxy.requests.length = 0;
    const { opts, events } = options(a, pkg, { upload: { blockSize: MiB, concurrency: 1 } });
    const result = await publishPackage(opts);
    expect(result).toMatchObject({ outcome: "published", activated: true });
    // The two blocks staged before the interruption are reused; the other three are sent.
    expect(result.bytesUploaded).toBe(pkg.bytes - 2 * MiB);
    expect(armCalls(a)).toEqual([
      "GET /applications/ffmpeg",
      "GET /applications/ffmpeg/versions/1.0.0",
      "PUT /applications/ffmpeg/versions/1.0.0",
      "POST /applications/ffmpeg/versions/1.0.0/activate",
    ]);
    expect(storageCalls()).toEqual([
      "HEAD ", // is a matching blob already committed? no
      "GET blocklist",
      "PUT block",
      "PUT block",
      "PUT block",
      "PUT blocklist",
    ]);
    expect(steps(events).slice(0, 3)).toEqual([
      "application ffmpeg: exists",
      "version 1.0.0: pending from an earlier run; resuming",
      expect.stringMatching(/^upload: 2\.1 MB sent in .*, 5 blocks, 2 reused$/),
    ]);
    expect((await blob.downloadToBuffer()).equals(fs.readFileSync(pkg.path))).toBe(true);
  });

  test("after a failed activation, a re-run activates the committed blob without uploading again", async () => {
    const a = await standIn({ activateFailures: 1 });
    const pkg = await zip("activation", 3000);
    await expect(publishPackage(options(a, pkg).opts)).rejects.toMatchObject({ statusCode: 409 });
    a.requests.length = 0;
    proxy.requests.length = 0;
    const { opts, events } = options(a, pkg);
    const result = await publishPackage(opts);
    expect(result).toMatchObject({ outcome: "published", bytesUploaded: 0, activated: true });
    expect(storageCalls()).toEqual(["HEAD "]);
    expect(steps(events)[2]).toBe("upload: already complete (0.0 MB), nothing sent");
  });

  test("waits until the activated version reports Active", async () => {
    const a = await standIn({ pendingReadsAfterActivate: 2 });
    const pkg = await zip("wait", 100);
    await publishPackage(options(a, pkg).opts);
    expect(armCalls(a).slice(-4)).toEqual([
      "POST /applications/ffmpeg/versions/1.0.0/activate",
      "GET /applications/ffmpeg/versions/1.0.0",
      "GET /applications/ffmpeg/versions/1.0.0",
      "GET /applications/ffmpeg/versions/1.0.0",
    ]);
  });

  test("gives up when activation does not finish in time", async () => {
    const a = await standIn({ pendingReadsAfterActivate: 1000 });
    const pkg = await zip("timeout", 100);
    await expect(
      publishPackage(options(a, pkg, { activation: { timeoutMs: 30, pollIntervalMs: 10 } }).opts),
    ).rejects.toThrow("application ffmpeg version 1.0.0 is still Pending 0 s after activation");
  });

  test("with managed-identity auto-storage (no SAS) the upload uses the Entra token", async () => {
    const a = await standIn({ storageAuth: "token", rewriteStorageUrl: undefined });
    const pkg = await zip("token", MiB + 1);
    const result = await publishPackage(options(a, pkg).opts);
    expect(result.outcome).toBe("published");
    const { blob } = await blobOf(a, "1.0.0");
    expect((await blob.downloadToBuffer()).equals(fs.readFileSync(pkg.path))).toBe(true);
  });

  test("a package description that does not match the file is refused before the version is created", async () => {
    const a = await standIn();
    const pkg = await zip("stale", 100);
    await expect(
      publishPackage(options(a, { ...pkg, sha256: "0".repeat(64) }).opts),
    ).rejects.toThrow(
      `${pkg.path} has sha256 ${pkg.sha256.slice(0, 12)} and ${pkg.bytes} bytes, not the expected 000000000000 and ${pkg.bytes}: rebuild the package`,
    );
    expect(a.counts["PUT version"]).toBeUndefined();
  });

  describe("retention", () => {
    const seeded = ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.0.5", "1.0.6"];

    async function seededStandIn() {
      const a = await standIn({
        pools: [
          { name: "render", applicationPackages: [{ id: APP_ID, version: "1.0.2" }] },
          {
            name: "other",
            applicationPackages: [
              { id: APP_ID.replace(/ffmpeg$/, "blender"), version: "1.0.3" },
              { id: APP_ID }, // the default version: covered by defaultVersion
            ],
          },
        ],
      });
      await a.seed(
        "ffmpeg",
        seeded.map((name) => ({ name })),
        { defaultVersion: "1.0.1" },
      );
      return a;
    }
    const remaining = (a: ArmBatchStandIn) =>
      [...a.applications.get("ffmpeg")!.versions.values()].map((v) => v.name).sort();

    test("keeps the newest N, the default and pool-referenced versions; deletes the rest", async () => {
      const a = await seededStandIn();
      const pkg = await zip("retain", 100);
      const result = await publishPackage(
        options(a, pkg, { version: "1.1.0", retainVersions: 3 }).opts,
      );
      expect(result.deletedVersions).toEqual(["1.0.0", "1.0.3", "1.0.4"]);
      expect(remaining(a)).toEqual(["1.0.1", "1.0.2", "1.0.5", "1.0.6", "1.1.0"]);
      expect(armCalls(a).filter((c) => c.startsWith("DELETE"))).toEqual([
        "DELETE /applications/ffmpeg/versions/1.0.0",
        "DELETE /applications/ffmpeg/versions/1.0.3",
        "DELETE /applications/ffmpeg/versions/1.0.4",
      ]);
      expect(a.counts["LIST pools"]).toBe(1);
      expect(a.counts["LIST versions"]).toBe(1);
    });

    test("with --set-default the old default is no longer protected", async () => {
      const a = await seededStandIn();
      const pkg = await zip("retain-default", 100);
      const { opts, events } = options(a, pkg, {
        version: "1.1.0",
        retainVersions: 3,
        setDefault: true,
      });
      const result = await publishPackage(opts);
      expect(result.defaultVersion).toBe("1.1.0");
      expect(result.deletedVersions).toEqual(["1.0.0", "1.0.1", "1.0.3", "1.0.4"]);
      expect(remaining(a)).toEqual(["1.0.2", "1.0.5", "1.0.6", "1.1.0"]);
      expect(steps(events).at(-1)).toBe("retention: kept 4, deleted 1.0.0, 1.0.1, 1.0.3, 1.0.4");
    });
  });
});

describe("messages", () => {
  test.each([
    ["1.2.0", "1.2.1"],
    ["1.2.9", "1.2.10"],
    ["2024.05.01-rc1", "2024.05.01-rc2"],
    ["build-007", "build-008"],
    ["1.0.0-beta", "1.0.1-beta"],
    ["latest", "latest.1"],
  ])("suggestNextVersion(%s) is %s", (v, next) => {
    expect(suggestNextVersion(v)).toBe(next);
  });

  test("immutableVersionMessage names both digests and the next version", () => {
    expect(immutableVersionMessage("ffmpeg", "2.0.0", "a".repeat(64), "b".repeat(64))).toBe(
      "application ffmpeg version 2.0.0 is already active with different content " +
        "(active sha256 aaaaaaaaaaaa, this zip bbbbbbbbbbbb): published versions are immutable; " +
        "bump the version (for example to 2.0.1) and publish again",
    );
  });
});
