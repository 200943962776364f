/**
 * Publishing an application package version, shared by `hpc-batch publish` and the
 * ApplicationPackage component's dynamic provider:
 *
 *   ensure the application (allowUpdates: false) -> look at the version ->
 *     absent:  PUT it -> upload the zip to its storageUrl -> activate {format: zip} -> wait Active
 *     pending: (an earlier run stopped) PUT again for a fresh storageUrl -> upload, reusing the
 *              blocks already staged (or nothing, when the committed blob already matches) ->
 *              activate -> wait Active
 *     active:  same sha256 -> no-op (no upload, no activation);
 *              different sha256 -> refused: versions are immutable, bump the version
 *   -> optionally point defaultVersion at it -> optionally prune old versions (lib/retention).
 *
 * The sha256 of an active version comes from the caller (Pulumi state) or, without state, from
 * the blob's `sha256` metadata (lib/upload) read through the storageUrl that GET returns with
 * api-version 2024-07-01. Nothing partial is ever activated: the blob exists only once its block
 * list is committed, and activation comes after the commit.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import type { TokenCredential } from "@azure/identity";
import {
  batchApplications,
  type BatchAccountTarget,
  type BatchApplications,
  type PackageVersionInfo,
} from "./armBatchApps";
import { chooseVersionsToDelete } from "./retention";
import {
  readBlobDigest,
  uploadPackage,
  type UploadProgress,
  type UploadRetryOptions,
} from "./upload";

/** The zip to publish: where it is and what it must hash to. `PackageInfo` from lib/zip fits. */
export interface PackageFile {
  path: string;
  sha256: string;
  bytes: number;
}

export type PublishStep =
  "application" | "version" | "upload" | "activate" | "default" | "retention";

export type PublishEvent =
  | { kind: "step"; step: PublishStep; message: string }
  | { kind: "upload-start"; total: number }
  | ({ kind: "upload-progress" } & UploadProgress)
  | {
      kind: "upload-done";
      bytesSent: number;
      total: number;
      blocks: number;
      blocksReused: number;
      ms: number;
    };

export interface PublishOptions {
  target: BatchAccountTarget;
  /** For the upload when the storageUrl carries no SAS (managed-identity auto-storage). */
  storageCredential?: TokenCredential;
  applicationId: string;
  version: string;
  /** The application's display name. Defaults to the application id. */
  displayName?: string;
  package: PackageFile;
  /** Point the application's defaultVersion at this version once it is active. */
  setDefault?: boolean;
  /** Keep this many newest versions (1 to 40) and delete older ones; unset: delete nothing. */
  retainVersions?: number;
  /** The sha256 a previous run recorded for this version (Pulumi state), if any. */
  knownSha256?: string;
  upload?: { blockSize?: number; concurrency?: number; retry?: UploadRetryOptions };
  activation?: { timeoutMs?: number; pollIntervalMs?: number };
  onEvent?: (e: PublishEvent) => void;
  abortSignal?: AbortSignal;
  /** Injected in tests; defaults to lib/armBatchApps against `target`. */
  client?: BatchApplications;
}

export interface PublishResult {
  applicationId: string;
  version: string;
  state: "Active";
  /** `published`: uploaded and activated now; `unchanged`: already active with this sha256. */
  outcome: "published" | "unchanged";
  sha256: string;
  bytes: number;
  /** Bytes sent to storage by this run. */
  bytesUploaded: number;
  activated: boolean;
  /** The application's default version after the run. */
  defaultVersion?: string;
  deletedVersions: string[];
  /** `/subscriptions/.../batchAccounts/<account>/applications/<id>`. */
  applicationResourceId: string;
  /** What a pool's `applicationPackages` entry takes. */
  packageReference: { id: string; version: string };
}

/** The `name` of the errors publishing refuses with (immutable version, unverifiable content). */
export const PUBLISH_REFUSED = "PublishRefusedError";

/**
 * A refusal: nothing was changed. A plain Error with a name, not a subclass: Pulumi serializes
 * the dynamic provider's classes as functions calling `Error.call(this, message)`, which leaves
 * the message empty.
 */
function refused(message: string): Error {
  const err = new Error(message);
  err.name = PUBLISH_REFUSED;
  return err;
}

/** The next version to suggest: the last number in it plus one ("1.2.0" -> "1.2.1"). */
export function suggestNextVersion(version: string): string {
  const m = /^(.*?)(\d+)(\D*)$/.exec(version);
  if (!m) return `${version}.1`;
  const n = String(Number(m[2]) + 1).padStart(m[2].length, "0");
  return `${m[1]}${n}${m[3]}`;
}

export function immutableVersionMessage(
  app: string,
  version: string,
  activeSha256: string,
  newSha256: string,
): string {
  return (
    `application ${app} version ${version} is already active with different content ` +
    `(active sha256 ${activeSha256.slice(0, 12)}, this zip ${newSha256.slice(0, 12)}): ` +
    `published versions are immutable; bump the version (for example to ${suggestNextVersion(version)}) and publish again`
  );
}

export function unverifiableVersionMessage(app: string, version: string): string {
  return (
    `application ${app} version ${version} is already active, but its sha256 cannot be read ` +
    "(the service returned no storageUrl for it and no earlier run recorded one): hpc-batch will " +
    `not guess whether this zip is the same; publish a new version (for example ${suggestNextVersion(version)})`
  );
}

/** sha256 (hex) and size of a file, streamed. */
export async function hashFile(file: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), bytes };
}

const sameName = (a: string | undefined, b: string) =>
  a !== undefined && a.toLowerCase() === b.toLowerCase();

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

export async function publishPackage(opts: PublishOptions): Promise<PublishResult> {
  const emit = opts.onEvent ?? (() => undefined);
  const step = (s: PublishStep, message: string) => emit({ kind: "step", step: s, message });
  const arm = opts.client ?? batchApplications(opts.target);
  const appName = opts.applicationId;
  const version = opts.version;
  const pkg = opts.package;

  // 1. The application. Both reads go out together (each ARM round trip costs 100-300 ms); a
  // missing application answers the version read with 404 too.
  const [app0, existing] = await Promise.all([
    arm.getApplication(appName),
    arm.getVersion(appName, version),
  ]);
  let app = app0;
  if (!app) {
    app = await arm.createApplication(appName, opts.displayName ?? appName);
    step("application", `application ${appName}: created (allowUpdates false)`);
  } else if (opts.displayName !== undefined && app.displayName !== opts.displayName) {
    app = await arm.updateApplication(appName, { displayName: opts.displayName });
    step(
      "application",
      `application ${appName}: display name set to ${JSON.stringify(opts.displayName)}`,
    );
  } else {
    step("application", `application ${appName}: exists`);
  }
  const applicationResourceId = app.id || arm.applicationResourceId(appName);

  // 2. The version.
  let outcome: PublishResult["outcome"];
  let bytesUploaded = 0;
  let activated = false;
  if (existing?.state === "Active") {
    const activeSha = await activeSha256(existing, opts);
    if (activeSha === undefined) throw refused(unverifiableVersionMessage(appName, version));
    if (activeSha !== pkg.sha256) {
      throw refused(immutableVersionMessage(appName, version, activeSha, pkg.sha256));
    }
    outcome = "unchanged";
    step(
      "version",
      `version ${version}: already active with sha256 ${pkg.sha256.slice(0, 12)}; nothing to upload`,
    );
  } else {
    await checkFile(pkg);
    // PUT answers a fresh storageUrl: for a new version, and again for a pending one.
    const created = await arm.createVersion(appName, version);
    if (!created.storageUrl) {
      throw new Error(`PUT of application ${appName} version ${version} answered no storageUrl`);
    }
    step(
      "version",
      existing
        ? `version ${version}: pending from an earlier run; resuming`
        : `version ${version}: created (Pending)`,
    );
    const committed = existing
      ? await readBlobDigest(created.storageUrl, opts.storageCredential, opts.upload?.retry)
      : undefined;
    if (committed?.sha256 === pkg.sha256 && committed.bytes === pkg.bytes) {
      step("upload", `upload: already complete (${mb(pkg.bytes)}), nothing sent`);
    } else {
      emit({ kind: "upload-start", total: pkg.bytes });
      const started = Date.now();
      const res = await uploadPackage({
        file: pkg.path,
        storageUrl: created.storageUrl,
        sha256: pkg.sha256,
        credential: opts.storageCredential,
        ...opts.upload,
        abortSignal: opts.abortSignal,
        onProgress: (p) => emit({ kind: "upload-progress", ...p }),
        onAccessWait: (waited) =>
          step(
            "upload",
            `upload: storage refused the token (403) ${Math.round(waited / 1000)} s after the first ` +
              "try; waiting for a new role assignment to take effect",
          ),
      });
      bytesUploaded = res.bytesSent;
      const ms = Date.now() - started;
      emit({ kind: "upload-done", ...res, total: res.bytes, ms });
      const rate = ms > 0 ? ` (${mb((res.bytesSent * 1000) / ms)}/s)` : "";
      step(
        "upload",
        `upload: ${mb(res.bytesSent)} sent in ${(ms / 1000).toFixed(1)} s${rate}, ` +
          `${res.blocks} blocks, ${res.blocksReused} reused`,
      );
    }
    opts.abortSignal?.throwIfAborted();
    const answer = await arm.activateVersion(appName, version);
    await waitForActive(arm, appName, version, answer, opts.activation);
    activated = true;
    outcome = "published";
    step("activate", `activate: version ${version} is Active`);
  }

  // 3. The default version, only now that the version is active.
  let defaultVersion = app.defaultVersion;
  if (opts.setDefault && !sameName(defaultVersion, version)) {
    const updated = await arm.updateApplication(appName, { defaultVersion: version });
    defaultVersion = updated.defaultVersion ?? version;
    step("default", `default version: ${version}`);
  }

  // 4. Retention.
  const deletedVersions: string[] = [];
  if (opts.retainVersions !== undefined) {
    const [versions, refs] = await Promise.all([
      arm.listVersions(appName),
      arm.listPoolPackageReferences(),
    ]);
    const referenced = refs
      .filter((r) => r.id.toLowerCase() === applicationResourceId.toLowerCase())
      .flatMap((r) => (r.version === undefined ? [] : [r.version]));
    const decision = chooseVersionsToDelete({
      versions,
      keep: opts.retainVersions,
      defaultVersion,
      referenced,
      current: version,
    });
    for (const name of decision.delete) {
      await arm.deleteVersion(appName, name);
      deletedVersions.push(name);
    }
    step(
      "retention",
      deletedVersions.length
        ? `retention: kept ${decision.kept.length}, deleted ${deletedVersions.join(", ")}`
        : `retention: kept ${decision.kept.length}, nothing to delete`,
    );
  }

  return {
    applicationId: appName,
    version,
    state: "Active",
    outcome,
    sha256: pkg.sha256,
    bytes: pkg.bytes,
    bytesUploaded,
    activated,
    defaultVersion,
    deletedVersions,
    applicationResourceId,
    packageReference: { id: applicationResourceId, version },
  };
}

/** The zip on disk must be the one described: a stale path or digest would publish a lie. */
async function checkFile(pkg: PackageFile): Promise<void> {
  const actual = await hashFile(pkg.path);
  if (actual.sha256 !== pkg.sha256 || actual.bytes !== pkg.bytes) {
    throw new Error(
      `${pkg.path} has sha256 ${actual.sha256.slice(0, 12)} and ${actual.bytes} bytes, ` +
        `not the expected ${pkg.sha256.slice(0, 12)} and ${pkg.bytes}: rebuild the package`,
    );
  }
}

/** The sha256 recorded for an active version: the caller's, else the blob's metadata. */
async function activeSha256(
  existing: PackageVersionInfo,
  opts: PublishOptions,
): Promise<string | undefined> {
  if (opts.knownSha256) return opts.knownSha256;
  if (!existing.storageUrl) return undefined;
  const digest = await readBlobDigest(
    existing.storageUrl,
    opts.storageCredential,
    opts.upload?.retry,
  );
  return digest?.sha256;
}

async function waitForActive(
  arm: BatchApplications,
  app: string,
  version: string,
  answer: PackageVersionInfo,
  timing: PublishOptions["activation"] = {},
): Promise<void> {
  const timeoutMs = timing.timeoutMs ?? 10 * 60_000;
  const pollMs = timing.pollIntervalMs ?? 2000;
  const deadline = Date.now() + timeoutMs;
  let state = answer.state;
  while (state !== "Active") {
    if (Date.now() >= deadline) {
      throw new Error(
        `application ${app} version ${version} is still ${state} ${Math.round(timeoutMs / 1000)} s after activation`,
      );
    }
    await new Promise((r) => setTimeout(r, pollMs));
    const v = await arm.getVersion(app, version);
    if (!v) throw new Error(`application ${app} version ${version} disappeared while activating`);
    state = v.state;
  }
}
