/**
 * Publishing an application package version, shared by `hpc-batch publish` and the
 * ApplicationPackage component's dynamic provider. What Azure allows decides the order
 * (sources in docs/publishing.md and beside each rule below):
 *
 *   application: create it locked (allowUpdates: false), or lock it again when an earlier run
 *     stopped while it was unlocked for retention
 *   version: look at it
 *     absent:  PUT it (waiting out AutoStorageNoPermission while the account's identity gets its
 *              role) -> upload to the storageUrl the PUT answered -> activate -> wait Active
 *     pending: an earlier run stopped. Never PUT again: a locked application refuses it. Resume
 *              with the storageUrl GET answers (api-version 2025-06-01) or the one the earlier run
 *              kept beside the zip (lib/publish/pendingRecord); upload what is missing -> activate. With
 *              neither: refuse, naming the way out (`restartPending`: unlock, delete the pending
 *              version, which nothing can use, lock, then PUT it anew)
 *     active:  same sha256 -> no-op; different sha256 -> refused: versions are immutable
 *   default: point defaultVersion at it (only now that it is active), or leave that to the canary
 *   retention: delete old versions, never the default, one a pool references or one running work
 *     references; a locked application refuses deletes, so: unlock, delete, lock again
 *
 * Every failure names its step, the version and what to do. Nothing partial is ever activated:
 * the blob exists only once its block list is committed, and activation comes after the commit.
 */
import type { TokenCredential } from "@azure/identity";
import {
  armErrorCode,
  batchApplications,
  describeArmError,
  isStatus,
  type ApplicationInfo,
  type BatchAccountTarget,
  type BatchApplications,
  type PackageVersionInfo,
} from "../azure/armBatchApps";
import { batchData } from "../azure/batchData";
import { armScope, describeCaller, STORAGE_SCOPE } from "../azure/credentials";
import {
  pendingRecordPath,
  readPendingRecord,
  removePendingRecord,
  writePendingRecord,
} from "./pendingRecord";
import { sha256File } from "../core/fileDigest";
import type { PackageFile } from "../core/packageFile";
import { chooseVersionsToDelete, type RetentionDecision } from "../core/retention";
import {
  loadUploadSdk,
  readBlobDigest,
  uploadPackage,
  type GrowingFile,
  type UploadProgress,
  type UploadRetryOptions,
} from "../azure/upload";

// The zip to publish: where it is and what it must hash to (a built PackageInfo fits as is).
export type { PackageFile };

export type PublishStep =
  "application" | "version" | "upload" | "activate" | "default" | "retention" | "lock";

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

/** A package reference of work still running on the account (Batch data plane). */
export interface RunningReference {
  /** The job (and task) holding the reference, for messages. */
  job: string;
  task?: string;
  applicationId: string;
  version?: string;
}

export interface PublishOptions {
  target: BatchAccountTarget;
  /** For the upload when the storageUrl carries no SAS (managed-identity auto-storage). */
  storageCredential?: TokenCredential;
  applicationId: string;
  version: string;
  /** The application's display name. Defaults to the application id. */
  displayName?: string;
  /**
   * The zip. A promise (a build still running) lets the reads of step 1 go out meanwhile;
   * nothing is written to Azure until it resolves, and its rejection is the publish's error.
   * It may resolve to a StreamingPackage (a zip being written): a new version is then uploaded
   * as the zip grows; any other is published once the zip is built.
   */
  package: PackageFile | Promise<PackageFile | StreamingPackage>;
  /**
   * Point the application's default version at this version once it is active: `true`, `false`,
   * or `"if-unset"` (only when the application has no default yet, i.e. its first release; later
   * ones wait for the canary, `hpc-batch verify --promote`). Defaults to false.
   */
  setDefault?: boolean | "if-unset";
  /** Keep this many newest versions (1 to 40) and delete older ones; unset: delete nothing. */
  retainVersions?: number;
  /**
   * The package references of running jobs and tasks (lib/azure/batchData). Retention never deletes a
   * version they name; without this function retention deletes nothing and says why.
   */
  runningReferences?: () => Promise<RunningReference[]>;
  /** Why `runningReferences` is not given (shown when retention has to skip). */
  runningReferencesUnavailable?: string;
  /**
   * The Batch data plane, read for `runningReferences` when that is not given: the credential,
   * and the account endpoint (defaults to the one the Batch account reports through ARM).
   */
  batch?: { credential: TokenCredential; endpoint?: string };
  /** The sha256 a previous run recorded for this version (Pulumi state), if any. */
  knownSha256?: string;
  /**
   * A Pending version whose upload URL cannot be had again is deleted and created anew (it is not
   * active, so nothing can use it). Defaults to false: refuse and say so.
   */
  restartPending?: boolean;
  upload?: {
    blockSize?: number;
    concurrency?: number;
    retry?: UploadRetryOptions;
    /** How long a token upload waits out 403s (RBAC propagation). Defaults to 10 minutes. */
    accessWaitMs?: number;
    accessPollMs?: number;
  };
  activation?: { timeoutMs?: number; pollIntervalMs?: number };
  /** How long to wait out `AutoStorageNoPermission` on the version PUT. Defaults to 10 min / 15 s. */
  autoStorageWait?: { timeoutMs?: number; pollIntervalMs?: number };
  onEvent?: (e: PublishEvent) => void;
  abortSignal?: AbortSignal;
  /** Injected in tests; defaults to lib/azure/armBatchApps against `target`. */
  client?: BatchApplications;
}

/**
 * A zip being written (lib/package/zip's `follow`): by the time it is handed over, the build's
 * checks have passed (folder, declared files, limits) and its bytes are being written.
 */
export interface StreamingPackage {
  /** Where the zip will be once complete. */
  path: string;
  /** The zip as it grows. */
  growing: GrowingFile;
  /** The zip once complete: its digest is known only then. */
  built: Promise<PackageFile>;
}

function isStreaming(p: PackageFile | StreamingPackage): p is StreamingPackage {
  return "growing" in p;
}

/** What retention did. */
export interface RetentionReport {
  kept: RetentionDecision["kept"];
  deleted: string[];
  /** Set when retention did not run or stopped: why (the release itself succeeded). */
  skipped?: string;
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
  /** The default version before the run. */
  previousDefaultVersion?: string;
  deletedVersions: string[];
  retention?: RetentionReport;
  /** `/subscriptions/.../batchAccounts/<account>/applications/<id>`. */
  applicationResourceId: string;
  /** What a pool's `applicationPackages` entry takes to pin this version. */
  packageReference: { id: string; version: string };
}

/**
 * How retention reads running work: through the Batch data plane with `credential`, or, when
 * there is no credential for it (lib/azure/credentials batchDataCredential), why not.
 */
export function batchAccess(
  credential: TokenCredential | { unavailable: string },
  endpoint?: string,
): Pick<PublishOptions, "batch" | "runningReferencesUnavailable"> {
  return "unavailable" in credential
    ? { runningReferencesUnavailable: credential.unavailable }
    : { batch: { credential, endpoint: endpoint || undefined } };
}

/** The `name` of the errors publishing refuses with (immutable version, unverifiable content). */
export const PUBLISH_REFUSED = "PublishRefusedError";
/** The `name` of a failed step's error. */
export const PUBLISH_STEP_FAILED = "PublishStepError";

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

/**
 * A failed step: `<step> failed for application <app> version <v>: <what Azure said>. <what to
 * do>`. Keeps the status and code of the cause for callers that branch on them.
 */
export function stepFailed(
  step: PublishStep,
  app: string,
  version: string,
  cause: unknown,
  advice: string,
): Error {
  const detail =
    (cause as { name?: string } | null)?.name === "RestError" ||
    typeof (cause as { statusCode?: unknown } | null)?.statusCode === "number"
      ? describeArmError(cause)
      : String((cause as Error | null)?.message ?? cause).split("\n")[0] || "(no message)";
  const err = Object.assign(
    new Error(`${step} failed for application ${app} version ${version}: ${detail}. ${advice}`),
    {
      step,
      statusCode: (cause as { statusCode?: number } | null)?.statusCode,
      code: armErrorCode(cause),
    },
  );
  err.name = PUBLISH_STEP_FAILED;
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

export function pendingWithoutUrlMessage(app: string, version: string): string {
  return (
    `application ${app} version ${version} is Pending: an earlier run created it and stopped ` +
    "before activating it, and its upload URL cannot be had again (the service returns it only " +
    "from the PUT that created the version, which a locked application refuses to repeat, and " +
    "no record of it is kept beside this zip): publish again with --restart-pending " +
    "(restartPending: true on the ApplicationPackage component), which deletes the pending " +
    "version, unused since it never became active, and creates it anew; or publish a new " +
    `version (for example ${suggestNextVersion(version)})`
  );
}

const sameName = (a: string | undefined, b: string) =>
  a !== undefined && a.toLowerCase() === b.toLowerCase();

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Azure RBAC: a new role assignment can take up to 10 minutes to apply (Microsoft Learn, troubleshooting). */
export const DEFAULT_AUTO_STORAGE_WAIT_MS = 10 * 60_000;
/** How many times a lock or unlock PATCH is tried before giving up. */
const LOCK_TRIES = 3;

/** The sentence every node-facing change carries: package references reach nodes only then. */
export const NODES_GET_IT =
  "nodes install it when they join the pool, reboot or are reimaged; running nodes keep the " +
  "version they have until then";

export async function publishPackage(opts: PublishOptions): Promise<PublishResult> {
  const emit = opts.onEvent ?? (() => undefined);
  const step = (s: PublishStep, message: string) => emit({ kind: "step", step: s, message });
  // Which step is under way, so a retried 429/5xx is shown against it while the SDK waits.
  let current: PublishStep = "application";
  const arm =
    opts.client ??
    batchApplications({
      ...opts.target,
      onRetry: (r) => {
        opts.target.onRetry?.(r);
        const where = r.path.replace(/^.*\/batchAccounts\/[^/]+/i, "") || r.path;
        step(
          current,
          `${current}: Azure answered HTTP ${r.status}${r.code ? ` ${r.code}` : ""} to ` +
            `${r.method} ${where}; retrying` +
            (r.retryAfterSeconds ? ` after ${r.retryAfterSeconds} s (Retry-After)` : ""),
        );
      },
    });
  const appName = opts.applicationId;
  const version = opts.version;
  const failed = (s: PublishStep, cause: unknown, advice: string) =>
    stepFailed(s, appName, version, cause, advice);
  const armAdvice = (err: unknown, action: string, otherwise: string) =>
    armPermissionAdvice(opts.target, err, action, otherwise);

  // 1. The application. Both reads go out together (each ARM round trip costs 100-300 ms), and
  // while a package is still being built; a missing application answers the version read with
  // 404 too. Nothing is written before the package is there: a failed build changes nothing in
  // Azure, and its error (bad input, mostly) comes before any error of the reads. The one
  // exception is a zip being written (StreamingPackage) for a version Azure does not have: its
  // checks have passed, so the application and version are created and the zip uploaded as it
  // grows; a build that fails after that leaves the version Pending, which the next run resumes.
  const reads = Promise.all([arm.getApplication(appName), arm.getVersion(appName, version)]);
  reads.catch(() => undefined); // awaited below, after the package
  const given = await opts.package;
  // Awaited below on every path that needs it; a failure before that must not go unhandled.
  if (isStreaming(given)) given.built.catch(() => undefined);
  let app: ApplicationInfo | undefined;
  let existing: PackageVersionInfo | undefined;
  let readError: { cause: unknown } | undefined;
  try {
    [app, existing] = await reads;
  } catch (err) {
    readError = { cause: err };
  }
  // Streamed only for a new version; any other waits for the zip to be built.
  const streaming = isStreaming(given) && !readError && !existing ? given : undefined;
  const pkg: PackageFile | undefined = streaming
    ? undefined
    : isStreaming(given)
      ? await given.built
      : given;
  try {
    if (readError) throw readError.cause;
    if (!app) {
      app = await arm.createApplication(appName, opts.displayName ?? appName);
      step("application", `application ${appName}: created (locked: allowUpdates false)`);
    } else {
      const props: { displayName?: string; allowUpdates?: boolean } = {};
      // An earlier run stopped between retention's unlock and lock: lock it again first.
      if (app.allowUpdates !== false) props.allowUpdates = false;
      if (opts.displayName !== undefined && app.displayName !== opts.displayName) {
        props.displayName = opts.displayName;
      }
      if (Object.keys(props).length > 0) app = await arm.updateApplication(appName, props);
      step(
        "application",
        `application ${appName}: ` +
          [
            props.allowUpdates === false
              ? "allowUpdates was true (created elsewhere, or an earlier run stopped during retention); locked (allowUpdates false)"
              : "exists (locked)",
            ...(props.displayName !== undefined
              ? [`display name set to ${JSON.stringify(props.displayName)}`]
              : []),
          ].join(", "),
      );
    }
  } catch (err) {
    throw failed(
      "application",
      err,
      await armAdvice(
        err,
        "Microsoft.Batch/batchAccounts/applications/read and write",
        "Nothing was published; run again",
      ),
    );
  }
  const applicationResourceId = app.id || arm.applicationResourceId(appName);
  const previousDefault = app.defaultVersion;

  // 2. The version.
  let outcome: PublishResult["outcome"];
  let bytesUploaded = 0;
  let activated = false;
  const recordFile = pendingRecordPath(given.path, {
    subscriptionId: opts.target.subscriptionId,
    resourceGroup: opts.target.resourceGroup,
    account: opts.target.account,
    applicationId: appName,
    version,
  });
  current = "version";
  let published: PackageFile;
  if (existing?.state === "Active" && pkg) {
    published = pkg;
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
    // A zip this run is writing needs no second read: its digest comes from the writer.
    if (pkg) await checkFile(pkg);
    let storageUrl: string | undefined;
    let resumed = false;
    if (existing) {
      // A Pending version of a locked application cannot be PUT again ("existing application
      // packages can't be updated or deleted", Microsoft Learn batch-application-packages.md;
      // azure-powershell issue 23809): resume with the URL GET gave, or the one kept beside the zip.
      storageUrl = existing.storageUrl ?? readPendingRecord(recordFile)?.storageUrl;
      if (storageUrl) {
        resumed = true;
        step(
          "version",
          `version ${version}: Pending from an earlier run; resuming its upload ` +
            `(${existing.storageUrl ? "upload URL from the service" : "upload URL kept beside the zip"}, no second PUT)`,
        );
      } else if (opts.restartPending) {
        await withUnlocked(arm, appName, version, "version", step, async () => {
          try {
            await arm.deleteVersion(appName, version);
          } catch (err) {
            throw failed(
              "version",
              err,
              "The pending version was not deleted; run again, or publish a new version " +
                `(for example ${suggestNextVersion(version)})`,
            );
          }
        });
        step(
          "version",
          `version ${version}: the pending version (never active, so unused) was deleted to start it anew`,
        );
      } else {
        throw refused(pendingWithoutUrlMessage(appName, version));
      }
    }
    if (!storageUrl) {
      const creating = createVersionWaitingForStorage(arm, opts, step);
      // An upload comes next: its SDK loads while the PUT is on the wire (setImmediate: once the
      // request is written), not after the answer.
      const preload = setImmediate(loadUploadSdk);
      const created = await creating.finally(() => clearImmediate(preload));
      if (!created.storageUrl) {
        throw failed(
          "version",
          new Error("the PUT answered no storageUrl"),
          "The version is Pending without an upload URL; run again with --restart-pending",
        );
      }
      storageUrl = created.storageUrl;
      step("version", `version ${version}: created (Pending)`);
      // Kept until the version is active, so a stopped run can be resumed from this machine.
      try {
        writePendingRecord(recordFile, { storageUrl, sha256: pkg?.sha256 });
      } catch (err) {
        step(
          "version",
          `version ${version}: could not keep its upload URL in ${recordFile} ` +
            `(${String((err as Error).message).split("\n")[0]}): a run stopped before activation ` +
            "could then not be resumed from this machine",
        );
      }
    }
    const committed = resumed
      ? await readBlobDigest(storageUrl, opts.storageCredential, opts.upload?.retry).catch(
          async (err: unknown) => {
            throw failed("upload", err, await storageAdvice(err, storageUrl!, opts));
          },
        )
      : undefined;
    current = "upload";
    if (pkg && committed?.sha256 === pkg.sha256 && committed.bytes === pkg.bytes) {
      published = pkg;
      step("upload", `upload: already complete (${mb(pkg.bytes)}), nothing sent`);
    } else {
      // A growing zip's size is known once it is built: the bar starts then (after the
      // caller's own line about the build, if it prints one when `built` resolves).
      let startShown = false;
      const showStart = (total: number) => {
        if (startShown) return;
        startShown = true;
        emit({ kind: "upload-start", total });
      };
      if (pkg) showStart(pkg.bytes);
      else {
        step("upload", "upload: sending the zip while it is built");
        streaming?.built.then(
          (b) => showStart(b.bytes),
          () => undefined,
        );
      }
      const started = Date.now();
      let res;
      try {
        res = await uploadPackage({
          file: streaming ? streaming.growing : (pkg as PackageFile).path,
          storageUrl,
          sha256: streaming ? streaming.built.then((b) => b.sha256) : (pkg as PackageFile).sha256,
          credential: opts.storageCredential,
          ...opts.upload,
          abortSignal: opts.abortSignal,
          onProgress: (p) => {
            if (startShown) emit({ kind: "upload-progress", ...p });
          },
          onAccessWait: (waited) =>
            step(
              "upload",
              `upload: storage refused the token (403) ${Math.round(waited / 1000)} s after the first ` +
                "try; waiting for a new role assignment to take effect",
            ),
        });
      } catch (err) {
        if (opts.abortSignal?.aborted) throw err;
        // A build that failed while its zip was being sent is the cause to show.
        const cause = streaming
          ? await streaming.built.then(
              () => err,
              (e: unknown) => e,
            )
          : err;
        throw failed("upload", cause, await storageAdvice(cause, storageUrl, opts));
      }
      published = streaming ? await streaming.built : (pkg as PackageFile);
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
    current = "activate";
    try {
      const answer = await arm.activateVersion(appName, version);
      await waitForActive(arm, appName, version, answer, opts.activation);
    } catch (err) {
      throw failed(
        "activate",
        err,
        await armAdvice(
          err,
          "Microsoft.Batch/batchAccounts/applications/versions/activate/action",
          "The zip is uploaded and the version is Pending: run again to activate it (nothing is uploaded twice)",
        ),
      );
    }
    removePendingRecord(recordFile);
    activated = true;
    outcome = "published";
    step("activate", `activate: version ${version} is Active`);
  }

  // 3. The default version, only now that the version is active.
  current = "default";
  let defaultVersion = app.defaultVersion;
  const wantDefault =
    opts.setDefault === true || (opts.setDefault === "if-unset" && defaultVersion === undefined);
  if (wantDefault && !sameName(defaultVersion, version)) {
    try {
      const updated = await arm.updateApplication(appName, { defaultVersion: version });
      defaultVersion = updated.defaultVersion ?? version;
    } catch (err) {
      throw failed(
        "default",
        err,
        `Version ${version} is Active but not the default (the default is still ` +
          `${defaultVersion ?? "unset"}): run the publish again (with --set-default from the CLI), ` +
          `or hpc-batch set-default --stack <stack> --version ${version}`,
      );
    }
    step(
      "default",
      `default version: ${version}${previousDefault ? ` (was ${previousDefault})` : ""}; ` +
        `pools that reference ${appName} without a version: ${NODES_GET_IT}`,
    );
  } else if (opts.setDefault === "if-unset" && !sameName(defaultVersion, version)) {
    step(
      "default",
      `default version: still ${defaultVersion}; ${version} is Active and becomes the default ` +
        "once the canary passes (hpc-batch verify --promote)",
    );
  }

  // 4. Retention: never fails the release (the version is already active and the default).
  let retention: RetentionReport | undefined;
  if (opts.retainVersions !== undefined) {
    current = "retention";
    const batch = opts.batch;
    const running =
      opts.runningReferences ??
      (batch
        ? async () => {
            const endpoint = batch.endpoint ?? (await arm.getAccount()).accountEndpoint;
            if (!endpoint) throw new Error("the Batch account reports no data-plane endpoint");
            return batchData(endpoint, batch.credential).listActivePackageReferences();
          }
        : undefined);
    retention = await prune(
      arm,
      { ...opts, runningReferences: running },
      appName,
      version,
      applicationResourceId,
      defaultVersion,
      step,
    );
  }

  return {
    applicationId: appName,
    version,
    state: "Active",
    outcome,
    sha256: published.sha256,
    bytes: published.bytes,
    bytesUploaded,
    activated,
    defaultVersion,
    previousDefaultVersion: previousDefault,
    deletedVersions: retention?.deleted ?? [],
    retention,
    applicationResourceId,
    packageReference: { id: applicationResourceId, version },
  };
}

/**
 * PUT the version, waiting out `AutoStorageNoPermission`: right after the Batch account is
 * created, its identity's role on auto-storage may not have applied yet, and the PUT answers 409
 * with that code (Microsoft support article use-managed-identities-azure-batch-account-pool).
 */
async function createVersionWaitingForStorage(
  arm: BatchApplications,
  opts: PublishOptions,
  step: (s: PublishStep, message: string) => void,
): Promise<PackageVersionInfo> {
  const waitMs = opts.autoStorageWait?.timeoutMs ?? DEFAULT_AUTO_STORAGE_WAIT_MS;
  const pollMs = opts.autoStorageWait?.pollIntervalMs ?? 15_000;
  const started = Date.now();
  for (let refusals = 0; ; refusals++) {
    try {
      return await arm.createVersion(opts.applicationId, opts.version);
    } catch (err) {
      const waited = Date.now() - started;
      if (isStatus(err, 409) && armErrorCode(err) === "AutoStorageNoPermission") {
        if (waited + pollMs <= waitMs) {
          step(
            "version",
            `version ${opts.version}: Azure answered AutoStorageNoPermission ` +
              `${Math.round(waited / 1000)} s after the first try (${refusals + 1} so far): the Batch ` +
              "account's identity cannot reach its auto-storage account yet (a new role " +
              `assignment takes up to 10 minutes to apply); trying again in ${Math.round(pollMs / 1000)} s`,
          );
          await sleep(pollMs);
          opts.abortSignal?.throwIfAborted();
          continue;
        }
        const account = await arm.getAccount().catch(() => undefined);
        const who = account?.identityIds.length
          ? `identity ${account.identityIds.join(", ")}`
          : account?.principalIds.length
            ? `identity with principal id ${account.principalIds.join(", ")}`
            : "managed identity";
        throw stepFailed(
          "version",
          opts.applicationId,
          opts.version,
          err,
          `Gave up after ${Math.round(waited / 1000)} s: the Batch account ${opts.target.account}'s ${who} ` +
            "lacks Storage Blob Data Contributor on its auto-storage account " +
            `${account?.storageAccountId ?? "(unknown)"}. Assign that role (the BatchAccount component ` +
            "does), then run again",
        );
      }
      throw stepFailed(
        "version",
        opts.applicationId,
        opts.version,
        err,
        await armPermissionAdvice(
          opts.target,
          err,
          "Microsoft.Batch/batchAccounts/applications/versions/write",
          "Nothing was uploaded; run again",
        ),
      );
    }
  }
}

/** What to do about a failed ARM call: a 403 names the caller and the permission it lacks. */
async function armPermissionAdvice(
  target: BatchAccountTarget,
  err: unknown,
  action: string,
  otherwise: string,
): Promise<string> {
  if (!isStatus(err, 403)) return otherwise;
  const caller = await describeCaller(target.credential, armScope(target.endpoint));
  return (
    `${caller} needs ${action} on Batch account ${target.account} ` +
    "(the hpc-batch deployer role, or Contributor)"
  );
}

/** What to do about a failed upload: a 403 names the role, the storage account and the caller. */
async function storageAdvice(
  err: unknown,
  storageUrl: string,
  opts: PublishOptions,
): Promise<string> {
  const status = (err as { statusCode?: number } | null)?.statusCode;
  const account = new URL(storageUrl).hostname.split(".")[0];
  if (status === 403 && opts.storageCredential) {
    return (
      `${await describeCaller(opts.storageCredential, STORAGE_SCOPE)} needs Storage Blob Data ` +
      `Contributor on storage account ${account} (the stack grants it to the deployer; a new ` +
      "assignment takes up to 10 minutes). The version is Pending: run again to resume"
    );
  }
  return "The version is Pending: run again to resume (blocks already sent are not sent again)";
}

/**
 * Runs `work` with the application unlocked (allowUpdates true), then locks it again, whatever
 * happened. A locked application refuses to delete its packages (Microsoft Learn,
 * batch-application-packages.md: "existing application packages can't be updated or deleted";
 * Azure/BatchExplorer pull 832). A failed lock is an error of its own: the application must not
 * stay open (the next publish locks it again first).
 */
async function withUnlocked(
  arm: BatchApplications,
  app: string,
  version: string,
  owner: PublishStep,
  step: (s: PublishStep, message: string) => void,
  work: () => Promise<void>,
): Promise<void> {
  let unlockError: unknown;
  try {
    await arm.updateApplication(app, { allowUpdates: true });
    step("lock", `application ${app}: unlocked (allowUpdates true) to delete versions`);
  } catch (err) {
    unlockError = err;
  }
  let workError: unknown;
  if (unlockError === undefined) {
    try {
      await work();
    } catch (err) {
      workError = err;
    }
  }
  // Locked again in every case: even a failed unlock may have been applied by Azure.
  let lockError: unknown;
  for (let i = 0; i < LOCK_TRIES; i++) {
    try {
      await arm.updateApplication(app, { allowUpdates: false });
      lockError = undefined;
      break;
    } catch (err) {
      lockError = err;
    }
  }
  if (lockError !== undefined) {
    throw stepFailed(
      "lock",
      app,
      version,
      lockError,
      `Application ${app} is left UNLOCKED (allowUpdates true): its versions can be overwritten ` +
        "until it is locked again. The next publish locks it first; or run " +
        `az batch application set --application-name ${app} --allow-updates false`,
    );
  }
  if (unlockError !== undefined) {
    throw stepFailed(
      owner,
      app,
      version,
      unlockError,
      `Could not unlock application ${app} (allowUpdates true) to delete versions; nothing was deleted`,
    );
  }
  step("lock", `application ${app}: locked again (allowUpdates false)`);
  if (workError !== undefined) throw workError;
}

async function prune(
  arm: BatchApplications,
  opts: PublishOptions,
  appName: string,
  version: string,
  applicationResourceId: string,
  defaultVersion: string | undefined,
  step: (s: PublishStep, message: string) => void,
): Promise<RetentionReport> {
  const skip = (why: string): RetentionReport => {
    step("retention", `retention: skipped, nothing deleted: ${why} (the release itself succeeded)`);
    return { kept: [], deleted: [], skipped: why };
  };
  let versions: PackageVersionInfo[];
  let poolRefs: { pool: string; id: string; version?: string }[];
  try {
    [versions, poolRefs] = await Promise.all([
      arm.listVersions(appName),
      arm.listPoolPackageReferences(),
    ]);
  } catch (err) {
    return skip(`could not list the versions and the pools' references: ${describeArmError(err)}`);
  }
  const mine = (id: string) =>
    id.toLowerCase() === applicationResourceId.toLowerCase() ||
    id.toLowerCase() === appName.toLowerCase();
  const referenced = poolRefs
    .filter((r) => mine(r.id))
    .flatMap((r) => (r.version === undefined ? [] : [r.version]));
  const decide = (extra: string[]) =>
    chooseVersionsToDelete({
      versions,
      keep: opts.retainVersions!,
      defaultVersion,
      referenced: [...referenced, ...extra],
      current: version,
    });
  let decision = decide([]);
  if (decision.delete.length > 0) {
    // Work still running may hold a task-level reference to an old version.
    if (!opts.runningReferences) {
      return skip(
        `the running jobs' package references cannot be read (${opts.runningReferencesUnavailable ?? "no Batch data-plane access"}), ` +
          `so no version is known to be unused; would delete ${decision.delete.join(", ")}`,
      );
    }
    let running: RunningReference[];
    try {
      running = await opts.runningReferences();
    } catch (err) {
      return skip(
        `could not read the running jobs' package references: ${String((err as Error).message ?? err).split("\n")[0]}`,
      );
    }
    const held = running.filter(
      (r) => r.applicationId.toLowerCase() === appName.toLowerCase() && r.version !== undefined,
    );
    decision = decide(held.map((r) => r.version!));
  }
  const deleted: string[] = [];
  if (decision.delete.length > 0) {
    let failure: string | undefined;
    try {
      await withUnlocked(arm, appName, version, "retention", step, async () => {
        for (const name of decision.delete) {
          try {
            await arm.deleteVersion(appName, name);
            deleted.push(name);
          } catch (err) {
            failure = `deleting ${name}: ${describeArmError(err)}`;
            return;
          }
        }
      });
    } catch (err) {
      // A lock that cannot be restored must stop the run; a failed unlock only stops retention.
      if ((err as { step?: string }).step === "lock") throw err;
      failure = String((err as Error).message ?? err);
    }
    if (failure) {
      step(
        "retention",
        `retention: deleted ${deleted.join(", ") || "nothing"}, then stopped: ${failure} (the release itself succeeded)`,
      );
      return { kept: decision.kept, deleted, skipped: failure };
    }
  }
  const why = (k: RetentionDecision["kept"][number]) =>
    k.reason === "newest" || k.reason === "current" ? k.name : `${k.name} (${k.reason})`;
  // Shown newest first, then what is kept for another reason.
  const rank = { current: 0, newest: 1, default: 2, referenced: 3, pending: 4 };
  const shown = [...decision.kept].sort(
    (x, y) =>
      rank[x.reason] - rank[y.reason] ||
      y.name.localeCompare(x.name, "en", { numeric: true, sensitivity: "base" }),
  );
  step(
    "retention",
    `retention: kept ${decision.kept.length} (${shown.map(why).join(", ")}), ` +
      (deleted.length ? `deleted ${deleted.join(", ")}` : "nothing to delete"),
  );
  return { kept: decision.kept, deleted };
}

/** The zip on disk must be the one described: a stale path or digest would publish a lie. */
async function checkFile(pkg: PackageFile): Promise<void> {
  const actual = await sha256File(pkg.path);
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
      throw new Error(`still ${state} ${Math.round(timeoutMs / 1000)} s after activation`);
    }
    await sleep(pollMs);
    const v = await arm.getVersion(app, version);
    if (!v) throw new Error("the version disappeared while activating");
    state = v.state;
  }
}
