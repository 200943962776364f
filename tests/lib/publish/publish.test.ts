import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as yazl from "yazl";
import { staticTokenCredential } from "../../../lib/azure/credentials";
import { InputError } from "../../../lib/core/errors";
import { buildPackage, type GrowingZip } from "../../../lib/package/zip";
import * as upload from "../../../lib/azure/upload";
import {
  immutableVersionMessage,
  pendingWithoutUrlMessage,
  publishPackage,
  suggestNextVersion,
  unverifiableVersionMessage,
  type PackageFile,
  type PublishEvent,
  type PublishOptions,
  type StreamingPackage,
} from "../../../lib/publish/publish";
import {
  fakeEntraToken,
  startAzurite,
  startFaultProxy,
  type Azurite,
  type FaultProxy,
  type ProxiedRequest,
} from "../../../standins/azurite";
import { batchApplications, type BatchApplications } from "../../../lib/azure/armBatchApps";
import { startBatchStandIn } from "../../../standins/batchStandIn";
import {
  startArmBatchStandIn,
  type ArmBatchStandIn,
  type ArmBatchStandInOptions,
} from "../../../standins/armBatchStandIn";
import { armIds } from "../../support/fakeAzure";

const SUB = "00000000-0000-0000-0000-0000000000aa";
const RG = "rg-hpc";
const ACCOUNT = "bahpc01";
const APP_ID = armIds(SUB).application(RG, ACCOUNT, "ffmpeg");
const MiB = 1024 * 1024;

let azurite: Azurite;
let proxy: FaultProxy;
let dir: string;
const token = fakeEntraToken();
const credential = staticTokenCredential(token);
let arm: ArmBatchStandIn | undefined;
/** Told of each storage request as the proxy receives it (before Azurite answers). */
let onStorageRequest: ((req: ProxiedRequest) => void) | undefined;

beforeAll(async () => {
  azurite = await startAzurite();
  proxy = await startFaultProxy(azurite, (req) => {
    onStorageRequest?.(req);
    return "forward";
  });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-batch-publish-"));
});
afterAll(async () => {
  await proxy?.close(); // undefined when startup failed: its own error is the one reported
  await azurite?.stop();
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

/** `size` pseudo-random (incompressible) bytes, the same for the same seed. */
function pseudoRandom(size: number, seed: string): Buffer {
  const content = Buffer.alloc(size);
  let block = createHash("sha256").update(seed).digest();
  for (let i = 0; i < size; i += 32) {
    block.copy(content, i, 0, Math.min(32, size - i));
    block = createHash("sha256").update(block).digest();
  }
  return content;
}

/** A real zip (one stored file of `size` pseudo-random bytes), as buildPackage would describe it. */
async function zip(name: string, size: number, seed = name): Promise<PackageFile> {
  const content = pseudoRandom(size, seed);
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

function options(
  a: ArmBatchStandIn,
  pkg: PublishOptions["package"],
  extra: Partial<PublishOptions> = {},
) {
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
      previousDefaultVersion: undefined,
      deletedVersions: [],
      retention: undefined,
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
    expect(a.requests.every((r) => r.query.get("api-version") === "2025-06-01")).toBe(true);
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
      "application ffmpeg: created (locked: allowUpdates false)",
      "version 1.0.0: created (Pending)",
      expect.stringMatching(
        /^upload: 3\.1 MB sent in \d+\.\d s \(\d+\.\d MB\/s\), 4 blocks, 0 reused$/,
      ),
      "activate: version 1.0.0 is Active",
      "default version: 1.0.0; pools that reference ffmpeg without a version: nodes install it " +
        "when they join the pool, reboot or are reimaged; running nodes keep the version they " +
        "have until then",
    ]);
    // The resume record lives only while the version is pending.
    expect(fs.existsSync(path.join(dir, ".pending"))).toBe(true);
    expect(fs.readdirSync(path.join(dir, ".pending"))).toEqual([]);
    const progress = events.filter((e) => e.kind === "upload-progress");
    expect(progress).toHaveLength(4);
    expect(progress[3]).toEqual({
      kind: "upload-progress",
      sent: pkg.bytes,
      reused: 0,
      total: pkg.bytes,
    });
  });

  test("the storage SDK loads while the version PUT is on the wire, and not for an unchanged re-run", async () => {
    const a = await standIn();
    const pkg = await zip("preload", MiB);
    const { opts, events } = options(a, pkg);
    // Marks where the load happens among the steps, and how many version PUTs the stand-in had
    // answered by then (the upload loads the SDK itself when it needs it).
    const load = jest.spyOn(upload, "loadUploadSdk").mockImplementation(() => {
      const answered = a.counts["PUT version"] ?? 0;
      events.push({
        kind: "step",
        step: "version",
        message: `(SDK loaded, ${answered} PUT answered)`,
      });
    });
    try {
      await publishPackage(opts);
      expect(steps(events).slice(0, 3)).toEqual([
        "application ffmpeg: created (locked: allowUpdates false)",
        "(SDK loaded, 0 PUT answered)",
        "version 1.0.0: created (Pending)",
      ]);
      expect(a.counts["PUT version"]).toBe(1);
      load.mockClear();
      await publishPackage(options(a, pkg).opts);
      expect(load).not.toHaveBeenCalled();
    } finally {
      load.mockRestore();
    }
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
      "application ffmpeg: exists (locked)",
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
    // No second PUT: the locked application would refuse it (the stand-in records a violation).
    expect(armCalls(a)).toEqual([
      "GET /applications/ffmpeg",
      "GET /applications/ffmpeg/versions/1.0.0",
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
      "application ffmpeg: exists (locked)",
      "version 1.0.0: Pending from an earlier run; resuming its upload (upload URL from the service, no second PUT)",
      expect.stringMatching(/^upload: 2\.1 MB sent in .*, 5 blocks, 2 reused$/),
    ]);
    expect((await blob.downloadToBuffer()).equals(fs.readFileSync(pkg.path))).toBe(true);
  });

  test("after a failed activation, a re-run activates the committed blob without uploading again", async () => {
    const a = await standIn({ activateFailures: 1 });
    const pkg = await zip("activation", 3000);
    await expect(publishPackage(options(a, pkg).opts)).rejects.toThrow(
      "activate failed for application ffmpeg version 1.0.0: HTTP 409 ActivationFailed: " +
        "activation refused by the test. The zip is uploaded and the version is Pending: run " +
        "again to activate it (nothing is uploaded twice)",
    );
    a.requests.length = 0;
    proxy.requests.length = 0;
    const { opts, events } = options(a, pkg);
    const result = await publishPackage(opts);
    expect(result).toMatchObject({ outcome: "published", bytesUploaded: 0, activated: true });
    expect(storageCalls()).toEqual(["HEAD "]);
    expect(armCalls(a)).toEqual([
      "GET /applications/ffmpeg",
      "GET /applications/ffmpeg/versions/1.0.0",
      "POST /applications/ffmpeg/versions/1.0.0/activate",
    ]);
    expect(a.counts["PUT version"]).toBe(1);
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
    ).rejects.toThrow(
      "activate failed for application ffmpeg version 1.0.0: still Pending 0 s after activation. " +
        "The zip is uploaded and the version is Pending: run again to activate it (nothing is uploaded twice)",
    );
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

  describe("retention under the lock", () => {
    const seeded = ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.0.5", "1.0.6"];
    const noRunningWork = async () => [];

    async function seededStandIn(extra: Partial<ArmBatchStandInOptions> = {}) {
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
        ...extra,
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
    const patches = (a: ArmBatchStandIn) =>
      a.requests.filter((r) => r.method === "PATCH").map((r) => r.body);

    test("unlocks, deletes all but the newest N, the default and pool-referenced versions, locks again", async () => {
      const a = await seededStandIn();
      const pkg = await zip("retain", 100);
      const { opts, events } = options(a, pkg, {
        version: "1.1.0",
        retainVersions: 3,
        runningReferences: noRunningWork,
      });
      const result = await publishPackage(opts);
      expect(result.deletedVersions).toEqual(["1.0.0", "1.0.3", "1.0.4"]);
      expect(remaining(a)).toEqual(["1.0.1", "1.0.2", "1.0.5", "1.0.6", "1.1.0"]);
      // The two lists go out together: their order varies.
      const after = armCalls(a).slice(4);
      expect([...after.slice(0, 2).sort(), ...after.slice(2)]).toEqual([
        "GET /applications/ffmpeg/versions",
        "GET /pools",
        "PATCH /applications/ffmpeg",
        "DELETE /applications/ffmpeg/versions/1.0.0",
        "DELETE /applications/ffmpeg/versions/1.0.3",
        "DELETE /applications/ffmpeg/versions/1.0.4",
        "PATCH /applications/ffmpeg",
      ]);
      expect(patches(a)).toEqual([
        { properties: { allowUpdates: true } },
        { properties: { allowUpdates: false } },
      ]);
      expect(a.applications.get("ffmpeg")!.allowUpdates).toBe(false);
      expect(steps(events).slice(-3)).toEqual([
        "application ffmpeg: unlocked (allowUpdates true) to delete versions",
        "application ffmpeg: locked again (allowUpdates false)",
        "retention: kept 5 (1.1.0, 1.0.6, 1.0.5, 1.0.1 (default), 1.0.2 (referenced)), deleted 1.0.0, 1.0.3, 1.0.4",
      ]);
      expect(result.retention).toEqual({
        kept: [
          { name: "1.0.1", reason: "default" },
          { name: "1.0.2", reason: "referenced" },
          { name: "1.0.5", reason: "newest" },
          { name: "1.0.6", reason: "newest" },
          { name: "1.1.0", reason: "current" },
        ],
        deleted: ["1.0.0", "1.0.3", "1.0.4"],
      });
    });

    test("with setDefault the old default is no longer protected", async () => {
      const a = await seededStandIn();
      const pkg = await zip("retain-default", 100);
      const { opts, events } = options(a, pkg, {
        version: "1.1.0",
        retainVersions: 3,
        setDefault: true,
        runningReferences: noRunningWork,
      });
      const result = await publishPackage(opts);
      expect(result.defaultVersion).toBe("1.1.0");
      expect(result.previousDefaultVersion).toBe("1.0.1");
      expect(result.deletedVersions).toEqual(["1.0.0", "1.0.1", "1.0.3", "1.0.4"]);
      expect(remaining(a)).toEqual(["1.0.2", "1.0.5", "1.0.6", "1.1.0"]);
      expect(steps(events).at(-1)).toBe(
        "retention: kept 4 (1.1.0, 1.0.6, 1.0.5, 1.0.2 (referenced)), deleted 1.0.0, 1.0.1, 1.0.3, 1.0.4",
      );
    });

    test("a version a running job or task references is kept", async () => {
      const a = await seededStandIn();
      const pkg = await zip("retain-running", 100);
      const { opts } = options(a, pkg, {
        version: "1.1.0",
        retainVersions: 3,
        runningReferences: async () => [
          { job: "render-42", task: "t1", applicationId: "FFMPEG", version: "1.0.3" },
          { job: "render-43", applicationId: "blender", version: "1.0.4" },
          { job: "render-44", applicationId: "ffmpeg" },
        ],
      });
      const result = await publishPackage(opts);
      expect(result.deletedVersions).toEqual(["1.0.0", "1.0.4"]);
      expect(remaining(a)).toEqual(["1.0.1", "1.0.2", "1.0.3", "1.0.5", "1.0.6", "1.1.0"]);
    });

    test("running work is read from the Batch data plane: jobs not completed and their unfinished tasks", async () => {
      const a = await seededStandIn();
      const batchToken = fakeEntraToken({ audience: "https://batch.core.windows.net" });
      const b = await startBatchStandIn({
        subscriptionId: SUB,
        resourceGroupName: RG,
        accountName: ACCOUNT,
        poolId: "render",
        applicationId: "ffmpeg",
        version: "1.1.0",
        pool: { targetDedicatedNodes: 0, nodes: [] },
        task: [],
        batchToken,
        armToken: token,
        jobs: [
          {
            id: "nightly",
            state: "disabled",
            tasks: [
              {
                id: "a",
                state: "active",
                applicationPackageReferences: [{ applicationId: "ffmpeg", version: "1.0.0" }],
              },
              {
                id: "b",
                state: "completed",
                applicationPackageReferences: [{ applicationId: "ffmpeg", version: "1.0.3" }],
              },
            ],
          },
          {
            id: "done",
            state: "completed",
            tasks: [
              {
                id: "c",
                state: "completed",
                applicationPackageReferences: [{ applicationId: "ffmpeg", version: "1.0.4" }],
              },
            ],
          },
        ],
      });
      try {
        const pkg = await zip("retain-batch", 100);
        const { opts } = options(a, pkg, {
          version: "1.1.0",
          retainVersions: 3,
          batch: { credential: staticTokenCredential(batchToken), endpoint: b.url },
        });
        const result = await publishPackage(opts);
        // 1.0.0 is held by a task of a disabled job (it can still run); 1.0.3 and 1.0.4 are not.
        expect(result.deletedVersions).toEqual(["1.0.3", "1.0.4"]);
        expect(b.calls()).toEqual(["GET /jobs", "GET /jobs/nightly/tasks"]);
        expect(b.requests.map((r) => [r.query.get("$filter"), r.query.get("$select")])).toEqual([
          ["state ne 'completed'", "id,jobManagerTask"],
          ["state ne 'completed'", "id,applicationPackageReferences"],
        ]);
        expect(b.violations).toEqual([]);
      } finally {
        await b.close();
      }
    });

    test("without a way to read running work, retention deletes nothing, says why, and the release succeeds", async () => {
      const a = await seededStandIn();
      const pkg = await zip("retain-blind", 100);
      const { opts, events } = options(a, pkg, {
        version: "1.1.0",
        retainVersions: 3,
        runningReferencesUnavailable: "AZURE_BATCH_ACCESS_TOKEN is not set",
      });
      const result = await publishPackage(opts);
      expect(result.outcome).toBe("published");
      expect(result.deletedVersions).toEqual([]);
      expect(a.counts["PATCH application"]).toBeUndefined();
      expect(steps(events).at(-1)).toBe(
        "retention: skipped, nothing deleted: the running jobs' package references cannot be read " +
          "(AZURE_BATCH_ACCESS_TOKEN is not set), so no version is known to be unused; would delete " +
          "1.0.0, 1.0.3, 1.0.4 (the release itself succeeded)",
      );
      const failing = options(a, await zip("retain-blind-2", 100), {
        version: "1.2.0",
        retainVersions: 3,
        runningReferences: async () => {
          throw new Error("HTTP 403 Forbidden: the identity may not list jobs");
        },
      });
      expect((await publishPackage(failing.opts)).deletedVersions).toEqual([]);
      expect(steps(failing.events).at(-1)).toBe(
        "retention: skipped, nothing deleted: could not read the running jobs' package references: " +
          "HTTP 403 Forbidden: the identity may not list jobs (the release itself succeeded)",
      );
    });

    test("a delete Azure refuses stops retention, the application is locked again, the release succeeds", async () => {
      const a = await seededStandIn({
        inject: {
          "DELETE version": [
            { status: 200 },
            { status: 409, body: { error: { code: "Conflict", message: "busy" } } },
          ],
        },
      });
      const pkg = await zip("retain-refused", 100);
      const { opts, events } = options(a, pkg, {
        version: "1.1.0",
        retainVersions: 3,
        runningReferences: noRunningWork,
      });
      const result = await publishPackage(opts);
      expect(result.outcome).toBe("published");
      expect(result.deletedVersions).toEqual(["1.0.0"]);
      expect(patches(a)).toEqual([
        { properties: { allowUpdates: true } },
        { properties: { allowUpdates: false } },
      ]);
      expect(a.applications.get("ffmpeg")!.allowUpdates).toBe(false);
      expect(steps(events).at(-1)).toBe(
        "retention: deleted 1.0.0, then stopped: deleting 1.0.3: HTTP 409 Conflict: busy (the release itself succeeded)",
      );
    });

    test("an unlock Azure refuses skips retention (nothing deleted), the lock is still sent, the release succeeds", async () => {
      const a = await seededStandIn({
        inject: {
          "PATCH application": [
            { status: 409, body: { error: { code: "Conflict", message: "try later" } } },
          ],
        },
      });
      const pkg = await zip("retain-no-unlock", 100);
      const { opts, events } = options(a, pkg, {
        version: "1.1.0",
        retainVersions: 3,
        runningReferences: noRunningWork,
      });
      const result = await publishPackage(opts);
      expect(result.outcome).toBe("published");
      expect(result.deletedVersions).toEqual([]);
      expect(a.counts["DELETE version"]).toBeUndefined();
      expect(patches(a)).toEqual([
        { properties: { allowUpdates: true } },
        { properties: { allowUpdates: false } },
      ]);
      expect(a.applications.get("ffmpeg")!.allowUpdates).toBe(false);
      expect(steps(events).at(-1)).toBe(
        "retention: deleted nothing, then stopped: retention failed for application ffmpeg version " +
          "1.1.0: HTTP 409 Conflict: try later. Could not unlock application ffmpeg (allowUpdates " +
          "true) to delete versions; nothing was deleted (the release itself succeeded)",
      );
    });

    test("a lock that cannot be restored fails the run, saying the application is unlocked", async () => {
      const a = await seededStandIn();
      const pkg = await zip("retain-unlocked", 100);
      const { opts } = options(a, pkg, {
        version: "1.1.0",
        retainVersions: 3,
        runningReferences: noRunningWork,
      });
      // The unlock goes through; every try to lock again fails as a 5xx with no body would.
      const client = batchApplications(opts.target);
      const wrapped: BatchApplications = {
        ...client,
        async updateApplication(app, props) {
          if (props.allowUpdates === false) {
            throw Object.assign(new Error(""), { name: "RestError", statusCode: 500 });
          }
          return client.updateApplication(app, props);
        },
      };
      await expect(publishPackage({ ...opts, client: wrapped })).rejects.toThrow(
        "lock failed for application ffmpeg version 1.1.0: HTTP 500: (the service sent no message). " +
          "Application ffmpeg is left UNLOCKED (allowUpdates true): its versions can be overwritten " +
          "until it is locked again. The next publish locks it first; or run az batch application " +
          "set --application-name ffmpeg --allow-updates false",
      );
      expect(a.applications.get("ffmpeg")!.allowUpdates).toBe(true);
      // The next run locks it first.
      const next = options(a, pkg, { version: "1.1.0" });
      await publishPackage(next.opts);
      expect(steps(next.events)[0]).toBe(
        "application ffmpeg: allowUpdates was true (created elsewhere, or an earlier run stopped " +
          "during retention); locked (allowUpdates false)",
      );
      expect(a.applications.get("ffmpeg")!.allowUpdates).toBe(false);
    });

    test("seven releases in a row, 3 kept, a pool on the second: all succeed, the newest 3 and the referenced one remain, locked", async () => {
      const a = await standIn({ pools: [] });
      const log: string[][] = [];
      for (let i = 1; i <= 7; i++) {
        const pkg = await zip(`seven-${i}`, 200);
        const { opts, events } = options(a, pkg, {
          version: `2.0.${i}`,
          setDefault: true,
          retainVersions: 3,
          runningReferences: noRunningWork,
        });
        const result = await publishPackage(opts);
        expect(result).toMatchObject({ outcome: "published", state: "Active" });
        log.push(steps(events).filter((m) => m.startsWith("retention")));
        // After the second release, a pool pins it (e.g. a team's own pool).
        if (i === 2)
          a.pools.push({ name: "pinned", applicationPackages: [{ id: APP_ID, version: "2.0.2" }] });
      }
      expect(remaining(a)).toEqual(["2.0.2", "2.0.5", "2.0.6", "2.0.7"]);
      // A release reads the pools' references, never writes a pool.
      expect(a.requests.filter((r) => /\/pools(\/|$)/.test(r.path)).map((r) => r.method)).toEqual(
        Array(7).fill("GET"),
      );
      expect(a.applications.get("ffmpeg")!.defaultVersion).toBe("2.0.7");
      expect(a.applications.get("ffmpeg")!.allowUpdates).toBe(false);
      expect(log.map((l) => l[0])).toEqual([
        "retention: kept 1 (2.0.1), nothing to delete",
        "retention: kept 2 (2.0.2, 2.0.1), nothing to delete",
        "retention: kept 3 (2.0.3, 2.0.2, 2.0.1), nothing to delete",
        "retention: kept 3 (2.0.4, 2.0.3, 2.0.2), deleted 2.0.1",
        "retention: kept 4 (2.0.5, 2.0.4, 2.0.3, 2.0.2 (referenced)), nothing to delete",
        "retention: kept 4 (2.0.6, 2.0.5, 2.0.4, 2.0.2 (referenced)), deleted 2.0.3",
        "retention: kept 4 (2.0.7, 2.0.6, 2.0.5, 2.0.2 (referenced)), deleted 2.0.4",
      ]);
    });
  });

  describe("promotion after a canary (setDefault: if-unset)", () => {
    test("the first release becomes the default; a later one waits for the canary, and says so", async () => {
      const a = await standIn();
      const one = await zip("canary-1", 100);
      const first = await publishPackage(options(a, one, { setDefault: "if-unset" }).opts);
      expect(first.defaultVersion).toBe("1.0.0");
      const two = await zip("canary-2", 100);
      const { opts, events } = options(a, two, { version: "1.1.0", setDefault: "if-unset" });
      const second = await publishPackage(opts);
      expect(second.defaultVersion).toBe("1.0.0");
      expect(a.applications.get("ffmpeg")!.defaultVersion).toBe("1.0.0");
      expect(a.counts["PATCH application"]).toBe(1);
      expect(steps(events).at(-1)).toBe(
        "default version: still 1.0.0; 1.1.0 is Active and becomes the default once the canary " +
          "passes (hpc-batch verify --promote)",
      );
    });
  });

  describe("what Azure refuses or delays", () => {
    test("three AutoStorageNoPermission answers are waited out and shown, then the version is created", async () => {
      const a = await standIn({ autoStorageNoPermission: 3 });
      const pkg = await zip("autostorage", 300);
      const { opts, events } = options(a, pkg, {
        autoStorageWait: { timeoutMs: 5000, pollIntervalMs: 5 },
      });
      const result = await publishPackage(opts);
      expect(result.outcome).toBe("published");
      expect(a.counts["PUT version"]).toBe(4);
      expect(
        steps(events)
          .filter((m) => m.includes("AutoStorageNoPermission"))
          .map((m) => m.replace(/ \d+ s after/, " N s after")),
      ).toEqual(
        [1, 2, 3].map(
          (n) =>
            `version 1.0.0: Azure answered AutoStorageNoPermission N s after the first try (${n} so far): ` +
            "the Batch account's identity cannot reach its auto-storage account yet (a new role " +
            "assignment takes up to 10 minutes to apply); trying again in 0 s",
        ),
      );
    });

    test("giving up on AutoStorageNoPermission names the role, the identity and the storage account", async () => {
      const a = await standIn({ autoStorageNoPermission: 100 });
      const pkg = await zip("autostorage-give-up", 300);
      const { opts } = options(a, pkg, { autoStorageWait: { timeoutMs: 20, pollIntervalMs: 5 } });
      const err = await publishPackage(opts).catch((e: Error) => e);
      expect((err as Error).message.replace(/after \d+ s/, "after N s")).toBe(
        "version failed for application ffmpeg version 1.0.0: HTTP 409 AutoStorageNoPermission: " +
          "The managed identity does not have permission to access auto storage account.. Gave up " +
          `after N s: the Batch account ${ACCOUNT}'s identity /subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-${ACCOUNT} ` +
          "lacks Storage Blob Data Contributor on its auto-storage account " +
          `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/st${ACCOUNT}. ` +
          "Assign that role (the BatchAccount component does), then run again",
      );
      expect(a.counts["GET account"]).toBe(1);
      expect(a.applications.get("ffmpeg")!.versions.size).toBe(0);
    });

    test("a Pending version without an upload URL is resumed from the record kept beside the zip", async () => {
      const a = await standIn({
        storageUrlOnGet: false,
        storageAuth: "token",
        rewriteStorageUrl: undefined,
        activateFailures: 1,
      });
      const pkg = await zip("record", 2 * MiB + 5);
      await expect(publishPackage(options(a, pkg).opts)).rejects.toThrow(/^activate failed/);
      const records = fs.readdirSync(path.join(dir, ".pending"));
      expect(records).toHaveLength(1);
      const record = JSON.parse(fs.readFileSync(path.join(dir, ".pending", records[0]), "utf8"));
      expect(record).toEqual({ storageUrl: expect.not.stringContaining("?"), sha256: pkg.sha256 });
      a.requests.length = 0;
      const { opts, events } = options(a, pkg);
      const result = await publishPackage(opts);
      expect(result).toMatchObject({ outcome: "published", bytesUploaded: 0 });
      expect(armCalls(a)).toEqual([
        "GET /applications/ffmpeg",
        "GET /applications/ffmpeg/versions/1.0.0",
        "POST /applications/ffmpeg/versions/1.0.0/activate",
      ]);
      expect(steps(events)[1]).toBe(
        "version 1.0.0: Pending from an earlier run; resuming its upload (upload URL kept beside the zip, no second PUT)",
      );
      expect(fs.readdirSync(path.join(dir, ".pending"))).toEqual([]);
    });

    test("a Pending version with no upload URL anywhere is refused with the way out, and restartPending takes it", async () => {
      const a = await standIn({ storageUrlOnGet: false });
      await a.seed("ffmpeg", [{ name: "1.0.0", state: "Pending" }]);
      const pkg = await zip("restart", 500);
      await expect(publishPackage(options(a, pkg).opts)).rejects.toThrow(
        pendingWithoutUrlMessage("ffmpeg", "1.0.0"),
      );
      expect(pendingWithoutUrlMessage("ffmpeg", "1.0.0")).toBe(
        "application ffmpeg version 1.0.0 is Pending: an earlier run created it and stopped before " +
          "activating it, and its upload URL cannot be had again (the service returns it only from " +
          "the PUT that created the version, which a locked application refuses to repeat, and no " +
          "record of it is kept beside this zip): publish again with --restart-pending " +
          "(restartPending: true on the ApplicationPackage component), which deletes the pending " +
          "version, unused since it never became active, and creates it anew; or publish a new " +
          "version (for example 1.0.1)",
      );
      expect(a.counts["PUT version"]).toBeUndefined();
      a.requests.length = 0;
      const { opts, events } = options(a, pkg, { restartPending: true });
      const result = await publishPackage(opts);
      expect(result.outcome).toBe("published");
      expect(armCalls(a)).toEqual([
        "GET /applications/ffmpeg",
        "GET /applications/ffmpeg/versions/1.0.0",
        "PATCH /applications/ffmpeg",
        "DELETE /applications/ffmpeg/versions/1.0.0",
        "PATCH /applications/ffmpeg",
        "PUT /applications/ffmpeg/versions/1.0.0",
        "POST /applications/ffmpeg/versions/1.0.0/activate",
      ]);
      expect(steps(events).slice(1, 4)).toEqual([
        "application ffmpeg: unlocked (allowUpdates true) to delete versions",
        "application ffmpeg: locked again (allowUpdates false)",
        "version 1.0.0: the pending version (never active, so unused) was deleted to start it anew",
      ]);
      expect(a.applications.get("ffmpeg")!.allowUpdates).toBe(false);
    });

    test("a retried 503 is shown while the SDK waits; a 5xx with an empty body still says what failed", async () => {
      const a = await standIn({
        inject: {
          "POST activate": [
            {
              status: 503,
              body: { error: { code: "ServerBusy", message: "try later" } },
              headers: { "retry-after": "1" },
            },
            ...Array(4).fill({ status: 500 }),
          ],
        },
      });
      const pkg = await zip("server-errors", 300);
      const { opts, events } = options(a, pkg);
      opts.target.retry = { retryDelayInMs: 10, maxRetryDelayInMs: 20 };
      const err = await publishPackage(opts).catch((e: Error) => e);
      expect((err as Error).message).toBe(
        "activate failed for application ffmpeg version 1.0.0: HTTP 500: (the service sent no message). " +
          "The zip is uploaded and the version is Pending: run again to activate it (nothing is uploaded twice)",
      );
      const retries = steps(events).filter((m) => m.includes("retrying"));
      expect(retries[0]).toBe(
        "activate: Azure answered HTTP 503 ServerBusy to POST /applications/ffmpeg/versions/1.0.0/activate; retrying after 1 s (Retry-After)",
      );
      // Five attempts in all (4 retries): the last answer is the failure, not a retry.
      expect(retries.slice(1)).toEqual(
        Array(3).fill(
          "activate: Azure answered HTTP 500 to POST /applications/ffmpeg/versions/1.0.0/activate; retrying",
        ),
      );
    }, 60_000);

    test("a storage 403 names the role, the storage account and the caller", async () => {
      const a = await standIn({ storageAuth: "token", rewriteStorageUrl: undefined });
      const pkg = await zip("forbidden", 300);
      const { opts } = options(a, pkg, {
        upload: { blockSize: MiB, accessWaitMs: 0 },
        storageCredential: {
          async getToken() {
            throw Object.assign(
              new Error(
                "This request is not authorized to perform this operation using this permission.",
              ),
              {
                name: "RestError",
                statusCode: 403,
                code: "AuthorizationPermissionMismatch",
              },
            );
          },
        },
      });
      const err = await publishPackage(opts).catch((e: Error) => e);
      expect((err as Error).message).toMatch(
        /^upload failed for application ffmpeg version 1\.0\.0: /,
      );
      expect((err as Error).message).toContain(
        "the signed-in identity needs Storage Blob Data Contributor on storage account 127",
      );
    });
  });
});

describe("publishPackage with a package still being built", () => {
  const BLOCK = 256 * 1024;
  const streamingUpload = {
    blockSize: BLOCK,
    concurrency: 4,
    retry: { maxTries: 2, retryDelayInMs: 10 },
  };
  /** Builds still held when a test ends (it failed): let go, so nothing is left waiting. */
  const holds: (() => void)[] = [];
  afterEach(() => {
    holds.splice(0).forEach((release) => release());
    jest.restoreAllMocks();
    onStorageRequest = undefined;
  });

  /**
   * A package folder of two incompressible files, a.bin then b.bin (the zip's entry order): a.bin's
   * 2 MiB entry is final before b.bin is read, that is 8 blocks of 256 KiB, and not a 9th.
   */
  function packageFolder(name: string, seed = name): string {
    const folder = path.join(dir, name, "folder");
    fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(path.join(folder, "a.bin"), pseudoRandom(2 * MiB, `${seed}-a`));
    fs.writeFileSync(path.join(folder, "b.bin"), pseudoRandom(2 * MiB, `${seed}-b`));
    return folder;
  }

  /** Holds the build at its open of `file` (before reading it) until `release` is called. */
  function holdRead(file: string) {
    const real = fs.promises.open;
    const target = fs.realpathSync(file);
    let reached!: () => void;
    const held = new Promise<void>((resolve) => (reached = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    holds.push(() => release());
    jest.spyOn(fs.promises, "open").mockImplementation((async (
      p: fs.PathLike,
      ...rest: unknown[]
    ) => {
      if (p === target) {
        reached();
        await released;
      }
      return real(p, ...(rest as [never]));
    }) as never);
    return { held, release };
  }

  /** Resolves once the storage proxy has received `n` requests matching `match`. */
  function storageRequests(n: number, match: (r: ProxiedRequest) => boolean): Promise<void> {
    return new Promise((resolve) => {
      onStorageRequest = () => {
        if (proxy.requests.filter(match).length >= n) resolve();
      };
    });
  }

  /**
   * buildPackage handing over its zip as it is written, as `hpc-batch publish --folder` does.
   * `atBuilt` runs when the build is complete, before anyone awaiting `built` is told.
   */
  function streamingBuild(folder: string, outDir: string, atBuilt: () => void = () => undefined) {
    let followed!: (zip: GrowingZip) => void;
    const writing = new Promise<GrowingZip>((resolve) => (followed = resolve));
    const built: Promise<PackageFile> = buildPackage({
      folder,
      outDir,
      applicationId: "ffmpeg",
      version: "1.0.0",
      follow: (z) => followed(z),
    }).then((info) => {
      atBuilt();
      return { path: info.path, sha256: info.sha256, bytes: info.bytes };
    });
    built.catch(() => undefined); // awaited through the package
    const pkg: Promise<StreamingPackage> = Promise.race([
      writing.then((growing) => ({ path: growing.path, growing, built })),
      built.then(() => {
        throw new Error("buildPackage never called follow");
      }),
    ]);
    return { pkg, built };
  }

  /**
   * The ARM client publishPackage would make, logging each call by name as it is made (the
   * test adds its own events to `log`), and telling when step 1's two reads are answered.
   */
  function loggedClient(opts: PublishOptions, log: string[]) {
    const client = batchApplications(opts.target);
    let done!: () => void;
    const readsAnswered = new Promise<void>((resolve) => (done = resolve));
    let answered = 0;
    const logged = Object.fromEntries(
      Object.entries(client).map(([name, method]) => [
        name,
        typeof method !== "function"
          ? method
          : (...args: unknown[]) => {
              log.push(name);
              const answer = (method as (...a: unknown[]) => unknown)(...args);
              if (name === "getApplication" || name === "getVersion") {
                const count = () => ++answered === 2 && done();
                (answer as Promise<unknown>).then(count, count);
              }
              return answer;
            },
      ]),
    ) as unknown as BatchApplications;
    return { client: logged, readsAnswered };
  }

  const pendingRecords = (outDir: string) =>
    fs
      .readdirSync(path.join(outDir, ".pending"))
      .map((f) => JSON.parse(fs.readFileSync(path.join(outDir, ".pending", f), "utf8")));

  test("a promise of a zip: the reads go out before it resolves, nothing is written until then, the result is the same", async () => {
    const pkg = await zip("later", 3 * MiB + 100);
    // The same publish with the zip given at once, on its own account.
    const direct = options(await standIn(), pkg, { setDefault: true });
    const expected = await publishPackage(direct.opts);
    const expectedCalls = armCalls(arm!);
    expect(arm!.violations).toEqual([]);
    await arm!.close();
    arm = undefined;
    proxy.requests.length = 0;

    const a = await standIn();
    let resolvePackage!: (p: PackageFile) => void;
    const later = new Promise<PackageFile>((resolve) => (resolvePackage = resolve));
    const { opts, events } = options(a, later, { setDefault: true });
    const log: string[] = [];
    const { client, readsAnswered } = loggedClient(opts, log);
    const publishing = publishPackage({ ...opts, client });
    await readsAnswered;
    // Whatever publishPackage does without waiting for I/O, it has done once this turn is over.
    await new Promise((resolve) => setImmediate(resolve));
    // What Azure has seen when the zip arrives: the two reads, no write.
    expect(armCalls(a)).toEqual([
      "GET /applications/ffmpeg",
      "GET /applications/ffmpeg/versions/1.0.0",
    ]);
    expect(proxy.requests).toEqual([]);
    log.push("(the zip arrives)");
    resolvePackage(pkg);
    expect(await publishing).toEqual(expected);
    expect(log).toEqual([
      "getApplication",
      "getVersion",
      "(the zip arrives)",
      "createApplication",
      "createVersion",
      "activateVersion",
      "updateApplication",
    ]);
    expect(armCalls(a)).toEqual(expectedCalls);
    expect(expectedCalls).toEqual([
      "GET /applications/ffmpeg",
      "GET /applications/ffmpeg/versions/1.0.0",
      "PUT /applications/ffmpeg",
      "PUT /applications/ffmpeg/versions/1.0.0",
      "POST /applications/ffmpeg/versions/1.0.0/activate",
      "PATCH /applications/ffmpeg",
    ]);
    const timing = /sent in .* s \(.*\/s\)/;
    expect(steps(events).map((m) => m.replace(timing, "sent in T"))).toEqual(
      steps(direct.events).map((m) => m.replace(timing, "sent in T")),
    );
  });

  test("a promise of a zip that rejects: publishPackage rejects with that very error, after the reads alone", async () => {
    const a = await standIn();
    const bad = buildPackage({
      folder: path.join(dir, "no-such-folder"),
      outDir: path.join(dir, "no-such-out"),
      applicationId: "ffmpeg",
      version: "1.0.0",
    });
    const buildError = await bad.catch((e: unknown) => e);
    expect(buildError).toBeInstanceOf(InputError);
    const { opts, events } = options(a, bad);
    const log: string[] = [];
    const { client, readsAnswered } = loggedClient(opts, log);
    const err = await publishPackage({ ...opts, client }).catch((e: unknown) => e);
    expect(err).toBe(buildError);
    expect(log).toEqual(["getApplication", "getVersion"]);
    // The reads were already sent; they are answered, and nothing follows them.
    await readsAnswered;
    expect(armCalls(a)).toEqual([
      "GET /applications/ffmpeg",
      "GET /applications/ffmpeg/versions/1.0.0",
    ]);
    expect(a.applications.size).toBe(0);
    expect(proxy.requests).toEqual([]);
    expect(events).toEqual([]);
  });

  test("a zip being written for a new version: created first, uploaded as it grows, committed once built, activated", async () => {
    const a = await standIn();
    const folder = packageFolder("stream-new");
    const outDir = path.join(dir, "stream-new", "out");
    const hold = holdRead(path.join(folder, "b.bin"));
    let atBuilt: { arm: string[]; storage: string[] } | undefined;
    const { pkg, built } = streamingBuild(folder, outDir, () => {
      atBuilt = { arm: armCalls(a), storage: storageCalls() };
    });
    const aBlocksStaged = storageRequests(8, (r) => r.method === "PUT" && r.comp === "block");
    const { opts, events } = options(a, pkg, { upload: streamingUpload });
    const publishing = publishPackage(opts);
    // The build is held before it reads b.bin, so a.bin's entry is all the zip has that is final.
    await hold.held;
    await aBlocksStaged;
    expect(atBuilt).toBeUndefined();
    expect(armCalls(a)).toEqual([
      "GET /applications/ffmpeg",
      "GET /applications/ffmpeg/versions/1.0.0",
      "PUT /applications/ffmpeg",
      "PUT /applications/ffmpeg/versions/1.0.0",
    ]);
    expect(storageCalls()).toEqual(["GET blocklist", ...Array(8).fill("PUT block")]);
    expect(steps(events)).toEqual([
      "application ffmpeg: created (locked: allowUpdates false)",
      "version 1.0.0: created (Pending)",
      "upload: sending the zip while it is built",
    ]);
    // Its size is not known yet: no progress bar.
    expect(events.filter((e) => e.kind !== "step")).toEqual([]);
    // The record to resume from is kept from the PUT on, without a digest (none is known yet).
    expect(pendingRecords(outDir)).toEqual([{ storageUrl: expect.not.stringContaining("?") }]);

    hold.release();
    const result = await publishing;
    const zipFile = await built;
    // Nothing is committed before the zip's digest is known.
    expect(atBuilt!.arm).toEqual(armCalls(a).slice(0, 4));
    expect(atBuilt!.storage).not.toContain("PUT blocklist");
    expect(zipFile).toEqual({
      path: path.join(outDir, "ffmpeg-1.0.0.zip"),
      sha256: createHash("sha256").update(fs.readFileSync(zipFile.path)).digest("hex"),
      bytes: fs.statSync(zipFile.path).size,
    });
    expect(result).toEqual({
      applicationId: "ffmpeg",
      version: "1.0.0",
      state: "Active",
      outcome: "published",
      sha256: zipFile.sha256,
      bytes: zipFile.bytes,
      bytesUploaded: zipFile.bytes,
      activated: true,
      defaultVersion: undefined,
      previousDefaultVersion: undefined,
      deletedVersions: [],
      retention: undefined,
      applicationResourceId: APP_ID,
      packageReference: { id: APP_ID, version: "1.0.0" },
    });
    const blocks = Math.ceil(zipFile.bytes / BLOCK);
    expect(blocks).toBe(17);
    expect(armCalls(a)).toEqual([
      "GET /applications/ffmpeg",
      "GET /applications/ffmpeg/versions/1.0.0",
      "PUT /applications/ffmpeg",
      "PUT /applications/ffmpeg/versions/1.0.0",
      "POST /applications/ffmpeg/versions/1.0.0/activate",
    ]);
    expect(storageCalls()).toEqual([
      "GET blocklist",
      ...Array(blocks).fill("PUT block"),
      "PUT blocklist",
    ]);
    const { state, blob } = await blobOf(a, "1.0.0");
    expect(state).toBe("Active");
    expect((await blob.downloadToBuffer()).equals(fs.readFileSync(zipFile.path))).toBe(true);
    expect((await blob.getProperties()).metadata).toEqual({ sha256: zipFile.sha256 });
    expect(steps(events)).toEqual([
      "application ffmpeg: created (locked: allowUpdates false)",
      "version 1.0.0: created (Pending)",
      "upload: sending the zip while it is built",
      expect.stringMatching(
        new RegExp(
          `^upload: 4\\.2 MB sent in \\d+\\.\\d s \\(\\d+\\.\\d MB/s\\), ${blocks} blocks, 0 reused$`,
        ),
      ),
      "activate: version 1.0.0 is Active",
    ]);
    // The bar starts once the size is known, and ends at the zip's size.
    const bar = events.filter((e) => e.kind !== "step");
    expect(bar.filter((e) => e.kind === "upload-start")).toEqual([
      { kind: "upload-start", total: zipFile.bytes },
    ]);
    expect(bar.at(-1)).toEqual({
      kind: "upload-done",
      bytes: zipFile.bytes,
      bytesSent: zipFile.bytes,
      total: zipFile.bytes,
      blocks,
      blocksReused: 0,
      ms: expect.any(Number),
    });
    expect(pendingRecords(outDir)).toEqual([]);
  });

  test("a zip being written for a version already active with the same content: waits for the build, uploads nothing", async () => {
    const a = await standIn();
    const folder = packageFolder("stream-same");
    const first = await buildPackage({
      folder,
      outDir: path.join(dir, "stream-same", "out-1"),
      applicationId: "ffmpeg",
      version: "1.0.0",
    });
    await publishPackage(options(a, first).opts);
    a.requests.length = 0;
    proxy.requests.length = 0;

    let atBuilt: { arm: string[]; storage: string[] } | undefined;
    const { pkg, built } = streamingBuild(folder, path.join(dir, "stream-same", "out-2"), () => {
      atBuilt = { arm: armCalls(a), storage: storageCalls() };
    });
    const { opts, events } = options(a, pkg, { upload: streamingUpload });
    const result = await publishPackage(opts);
    const zipFile = await built;
    expect(zipFile.sha256).toBe(first.sha256);
    expect(atBuilt).toEqual({
      arm: ["GET /applications/ffmpeg", "GET /applications/ffmpeg/versions/1.0.0"],
      storage: [],
    });
    expect(result).toMatchObject({
      outcome: "unchanged",
      sha256: zipFile.sha256,
      bytes: zipFile.bytes,
      bytesUploaded: 0,
      activated: false,
    });
    expect(armCalls(a)).toEqual([
      "GET /applications/ffmpeg",
      "GET /applications/ffmpeg/versions/1.0.0",
    ]);
    expect(storageCalls()).toEqual(["HEAD "]);
    expect(steps(events)).toEqual([
      "application ffmpeg: exists (locked)",
      `version 1.0.0: already active with sha256 ${zipFile.sha256.slice(0, 12)}; nothing to upload`,
    ]);
  });

  test("a zip being written for a version already active with other content: refused as immutable", async () => {
    const a = await standIn();
    const first = await zip("stream-other-first", 5000);
    await publishPackage(options(a, first).opts);
    a.requests.length = 0;
    proxy.requests.length = 0;

    const { pkg, built } = streamingBuild(
      packageFolder("stream-other"),
      path.join(dir, "stream-other", "out"),
    );
    const { opts } = options(a, pkg, { upload: streamingUpload });
    const err = await publishPackage(opts).catch((e: Error) => e);
    const zipFile = await built;
    expect((err as Error).name).toBe("PublishRefusedError");
    expect((err as Error).message).toBe(
      `application ffmpeg version 1.0.0 is already active with different content ` +
        `(active sha256 ${first.sha256.slice(0, 12)}, this zip ${zipFile.sha256.slice(0, 12)}): ` +
        "published versions are immutable; bump the version (for example to 1.0.1) and publish again",
    );
    expect(armCalls(a)).toEqual([
      "GET /applications/ffmpeg",
      "GET /applications/ffmpeg/versions/1.0.0",
    ]);
    expect(storageCalls()).toEqual(["HEAD "]);
    const { blob } = await blobOf(a, "1.0.0");
    expect((await blob.downloadToBuffer()).equals(fs.readFileSync(first.path))).toBe(true);
  });

  test("a build that fails while its zip is sent: the build's error, the version Pending, no blob; the next run resumes it", async () => {
    const a = await standIn();
    const folder = packageFolder("stream-fail");
    const outDir = path.join(dir, "stream-fail", "out");
    const hold = holdRead(path.join(folder, "b.bin"));
    const { pkg, built } = streamingBuild(folder, outDir);
    const aBlocksStaged = storageRequests(8, (r) => r.method === "PUT" && r.comp === "block");
    const { opts, events } = options(a, pkg, { upload: streamingUpload });
    const publishing = publishPackage(opts).catch((e: unknown) => e);
    await hold.held;
    await aBlocksStaged;
    // b.bin grows after the scan listed it: the writer refuses it.
    fs.appendFileSync(path.join(folder, "b.bin"), "x");
    hold.release();
    const err = (await publishing) as Error & { step?: string };
    const buildError = (await built.catch((e: unknown) => e)) as Error;
    expect(buildError.message).toBe(
      `could not zip ${folder}: file data stream has unexpected number of bytes: "b.bin" was ` +
        `${2 * MiB} bytes when listed, now longer (it changed while being zipped)`,
    );
    expect(err.name).toBe("PublishStepError");
    expect(err.step).toBe("upload");
    expect(err.message).toBe(
      `upload failed for application ffmpeg version 1.0.0: ${buildError.message}. The version ` +
        "is Pending: run again to resume (blocks already sent are not sent again)",
    );
    expect(armCalls(a)).toEqual([
      "GET /applications/ffmpeg",
      "GET /applications/ffmpeg/versions/1.0.0",
      "PUT /applications/ffmpeg",
      "PUT /applications/ffmpeg/versions/1.0.0",
    ]);
    expect(storageCalls()).toEqual(["GET blocklist", ...Array(8).fill("PUT block")]);
    expect(steps(events)).toEqual([
      "application ffmpeg: created (locked: allowUpdates false)",
      "version 1.0.0: created (Pending)",
      "upload: sending the zip while it is built",
    ]);
    const { state, blob } = await blobOf(a, "1.0.0");
    expect(state).toBe("Pending");
    expect(await blob.exists()).toBe(false);
    expect(fs.readdirSync(outDir).filter((f) => !f.startsWith(".pending"))).toEqual([]);

    // The next run, with the zip built whole: no second PUT (the locked application would
    // refuse it, and the stand-in would record a violation); a.bin's 8 blocks are reused.
    const rebuilt = await buildPackage({
      folder,
      outDir,
      applicationId: "ffmpeg",
      version: "1.0.0",
    });
    a.requests.length = 0;
    proxy.requests.length = 0;
    const next = options(a, rebuilt, { upload: streamingUpload });
    const result = await publishPackage(next.opts);
    expect(result).toMatchObject({
      outcome: "published",
      sha256: rebuilt.sha256,
      bytes: rebuilt.bytes,
      bytesUploaded: rebuilt.bytes - 8 * BLOCK,
      activated: true,
    });
    expect(armCalls(a)).toEqual([
      "GET /applications/ffmpeg",
      "GET /applications/ffmpeg/versions/1.0.0",
      "POST /applications/ffmpeg/versions/1.0.0/activate",
    ]);
    expect(a.counts["PUT version"]).toBe(1);
    expect(a.applications.get("ffmpeg")!.allowUpdates).toBe(false);
    const blocks = Math.ceil(rebuilt.bytes / BLOCK);
    expect(storageCalls()).toEqual([
      "HEAD ",
      "GET blocklist",
      ...Array(blocks - 8).fill("PUT block"),
      "PUT blocklist",
    ]);
    expect(steps(next.events)).toEqual([
      "application ffmpeg: exists (locked)",
      "version 1.0.0: Pending from an earlier run; resuming its upload (upload URL from the service, no second PUT)",
      expect.stringMatching(
        new RegExp(`^upload: 2\\.1 MB sent in .*, ${blocks} blocks, 8 reused$`),
      ),
      "activate: version 1.0.0 is Active",
    ]);
    expect((await blob.downloadToBuffer()).equals(fs.readFileSync(rebuilt.path))).toBe(true);
    expect((await blob.getProperties()).metadata).toEqual({ sha256: rebuilt.sha256 });
    expect(pendingRecords(outDir)).toEqual([]);
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
