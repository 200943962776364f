/**
 * `hpc-batch publish`: publishes a package zip as an active Batch application package version
 * without Pulumi, with the same library and rules as the ApplicationPackage component (a drop-in
 * for the classic pipeline's `az batch application package create` + `activate`):
 * creates the application and version if needed, uploads, activates and waits for Active; an
 * unchanged zip is a no-op, a changed zip under an existing version is refused.
 * With --folder it builds the zip first, as `hpc-batch package` does, in the same process: the
 * reads go out while it is built, and a new version is uploaded while its zip is written.
 * Every flag is checked before anything is sent (exit 2 on bad input, 1 on failed work).
 */
import * as fs from "node:fs";
import type { Command } from "commander";
import { DEFAULT_ARM_ENDPOINT } from "../../lib/azure/credentials";
import { InputError, throwIfAny } from "../../lib/core/errors";
import {
  GUID_RE,
  validateApplicationId,
  validateApplicationVersion,
  validateArmEndpoint,
  validateBatchAccountName,
  validateBatchEndpoint,
  validateResourceGroupName,
} from "../../lib/core/naming";
import { validateRetainVersions } from "../../lib/core/retention";
import { checkPackageFolder } from "../../lib/package/packageFolder";
import type { PackageFile } from "../../lib/core/packageFile";
import type { GrowingZip } from "../../lib/package/zip";
import type { StreamingPackage } from "../../lib/publish/publish";
import type { CommandContext } from "../context";

interface PublishFlags {
  zip?: string;
  folder?: string;
  out?: string;
  subscription?: string;
  resourceGroup?: string;
  account?: string;
  application?: string;
  version?: string;
  setDefault?: boolean;
  armEndpoint?: string;
  displayName?: string;
  retain?: string;
  batchEndpoint?: string;
  restartPending?: boolean;
  json?: boolean;
}

export interface PublishArgs {
  /** The zip to publish; exactly one of `zip` and `folder` is set. */
  zip?: string;
  /** The package folder to build the zip from (as `hpc-batch package` does), then publish. */
  folder?: string;
  /** With `folder`: where the zip goes (`package`'s --out). */
  out?: string;
  subscriptionId: string;
  resourceGroup: string;
  account: string;
  applicationId: string;
  /** Unset only with `folder`: computed from the folder's history, as `package` does. */
  version?: string;
  setDefault: boolean;
  armEndpoint: string;
  displayName?: string;
  retainVersions?: number;
  /** The Batch account's data-plane endpoint; unset: the one the account reports. */
  batchEndpoint?: string;
  restartPending: boolean;
  json: boolean;
}

/** Marks a flag publish cannot run without, in `--help`. */
const REQUIRED = "(required)";

function required(flag: string, value: string | undefined, what: string): string {
  if (value === undefined || value === "")
    throw new InputError(flag, value, `must be given (${what})`);
  return value;
}

/** Checks the flag `--zip` names a readable zip file (its first 4 bytes). */
function checkZip(zip: string): string {
  let head: Buffer;
  try {
    const fd = fs.openSync(zip, "r");
    try {
      head = Buffer.alloc(4);
      fs.readSync(fd, head, 0, 4, 0);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    throw new InputError("--zip", zip, "must be a readable file");
  }
  if (head.readUInt32LE(0) !== 0x04034b50) {
    throw new InputError("--zip", zip, "must be a zip file (it does not start with a zip entry)");
  }
  return zip;
}

/**
 * Checks every flag and reports every problem at once (InputErrors, in the order of the usage
 * line), so a pipeline author fixes them in one edit rather than one per run.
 */
export function parsePublishFlags(flags: PublishFlags): PublishArgs {
  const errors: InputError[] = [];
  const check = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      errors.push(err);
      return undefined;
    }
  };
  const zip = check(() => {
    if (flags.folder !== undefined) {
      if (flags.zip !== undefined) {
        throw new InputError(
          "--zip",
          flags.zip,
          "must not be given with --folder (--zip publishes a built zip, --folder builds one and publishes it)",
        );
      }
      return undefined;
    }
    return checkZip(required("--zip", flags.zip, "the package zip to publish, or --folder"));
  });
  const folder = check(() => {
    // The build checks what it holds.
    if (flags.folder !== undefined) checkPackageFolder(flags.folder, "--folder");
    return flags.folder;
  });
  check(() => {
    if (flags.out !== undefined && flags.folder === undefined) {
      throw new InputError("--out", flags.out, "goes only with --folder (where the zip is built)");
    }
  });
  const subscriptionId = check(() => {
    const id = required("--subscription", flags.subscription, "the Azure subscription id");
    if (!GUID_RE.test(id)) {
      throw new InputError("--subscription", id, "must be a subscription id (a GUID)");
    }
    return id;
  });
  const resourceGroup = check(() =>
    validateResourceGroupName(
      "--resource-group",
      required("--resource-group", flags.resourceGroup, "the Batch account's resource group"),
    ),
  );
  const account = check(() =>
    validateBatchAccountName(
      "--account",
      required("--account", flags.account, "the Batch account name"),
    ),
  );
  const applicationId = check(() =>
    validateApplicationId(
      "--application",
      required("--application", flags.application, "the Batch application id"),
    ),
  );
  const version = check(() =>
    flags.folder !== undefined && flags.version === undefined
      ? undefined
      : validateApplicationVersion(
          "--version",
          required("--version", flags.version, "the version to publish"),
        ),
  );
  check(() => {
    if (flags.displayName !== undefined && flags.displayName.trim() === "") {
      throw new InputError("--display-name", flags.displayName, "must not be empty");
    }
  });
  const retainVersions = check(() => {
    if (flags.retain === undefined) return undefined;
    const n = /^\d+$/.test(flags.retain) ? Number(flags.retain) : Number.NaN;
    return validateRetainVersions("--retain", Number.isNaN(n) ? flags.retain : n);
  });
  const armEndpoint = flags.armEndpoint ?? DEFAULT_ARM_ENDPOINT;
  check(() => validateArmEndpoint("--arm-endpoint", armEndpoint));
  const batchEndpoint = check(() => {
    if (flags.batchEndpoint === undefined) return undefined;
    return validateBatchEndpoint("--batch-endpoint", flags.batchEndpoint);
  });
  throwIfAny(errors);
  return {
    zip,
    folder,
    out: flags.out,
    subscriptionId: subscriptionId as string,
    resourceGroup: resourceGroup as string,
    account: account as string,
    applicationId: applicationId as string,
    version,
    setDefault: flags.setDefault === true,
    armEndpoint: armEndpoint.replace(/\/+$/, ""),
    displayName: flags.displayName,
    retainVersions,
    batchEndpoint,
    restartPending: flags.restartPending === true,
    json: flags.json === true,
  };
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command("publish")
    .description(
      "Publish a package zip, or build it from a folder, as an active Batch application package " +
        "version (creates the application and version if needed, uploads, activates, waits for Active)",
    )
    .option("--zip <file>", "(required, or --folder) the package zip (from `hpc-batch package`)")
    .option(
      "--folder <dir>",
      "build the zip from this package folder as `hpc-batch package` does and publish it, in one process (a new version is uploaded while its zip is written)",
    )
    .option("--out <dir>", "with --folder: where the zip goes (default: out in the project root)")
    .option("--subscription <id>", `${REQUIRED} Azure subscription id`)
    .option("--resource-group <name>", `${REQUIRED} resource group of the Batch account`)
    .option("--account <name>", `${REQUIRED} Batch account name`)
    .option("--application <id>", `${REQUIRED} Batch application id`)
    .option(
      "--version <version>",
      "(required with --zip) version to publish; an active version is never overwritten; with --folder, default: computed as `hpc-batch package` does",
    )
    .option("--set-default", "make this version the application's default once it is active")
    .option("--arm-endpoint <url>", `Resource Manager endpoint (default ${DEFAULT_ARM_ENDPOINT})`)
    .option("--display-name <name>", "the application's display name (default: its id)")
    .option(
      "--retain <n>",
      "keep the newest n versions (1 to 40) and delete older ones, never the default or one a pool or running work references (reads running jobs through the Batch data plane)",
    )
    .option(
      "--batch-endpoint <host>",
      "the Batch account's endpoint, where --retain reads running jobs (default: the one the account reports)",
    )
    .option(
      "--restart-pending",
      "a Pending version left by an interrupted run whose upload URL cannot be had again is deleted (never active, so unused) and created anew",
    )
    .option("--json", "print the result as JSON")
    .action(async (flags: PublishFlags) => {
      const args = parsePublishFlags(flags);
      // Loaded here, not at start-up: `--help` needs none of them (cli/main.ts).
      const { armScope, batchDataCredential, ensureToken, resolveCredentials } =
        await import("../../lib/azure/credentials");
      const { createPublishReporter } = await import("../../lib/publish/progress");
      const { batchAccess, publishPackage } = await import("../../lib/publish/publish");
      const { zipDigest } = await import("../../lib/package/zip");
      const { inspectZip } = await import("../../lib/package/zipInspect");
      // Nodes unpack the zip as is: refuse what local-run refuses (a zip bomb, more than the
      // package limits, '..' or absolute paths, symlinks) before any request is sent.
      const inspect = (zip: string, flag: string) =>
        inspectZip(zip).catch((err: unknown) => {
          throw err instanceof InputError && err.field === "zip"
            ? new InputError(flag, err.value, err.rule)
            : err;
        });
      // With --json, stdout carries only the result; progress goes to stderr.
      const out = args.json ? process.stderr : process.stdout;
      const reporter = createPublishReporter(out);
      let version: string;
      let pkg: Promise<PackageFile | StreamingPackage>;
      let builtZip: string | undefined;
      if (args.folder !== undefined) {
        // Built in this process while the credential is checked and the publish reads go out:
        // nothing is written to Azure before the zip is built (lib/publish/publish step 1).
        const folder = args.folder;
        const { buildFromFolder, versionSource } = await import("./package");
        let versionKnown: (v: string) => void = () => undefined;
        const resolvedVersion = new Promise<string>((resolve) => (versionKnown = resolve));
        let followed: (zip: GrowingZip) => void = () => undefined;
        const writing = new Promise<GrowingZip>((resolve) => (followed = resolve));
        const build = buildFromFolder({
          command: "publish",
          folder,
          out: args.out,
          applicationId: args.applicationId,
          version: args.version,
          replace: false,
          onVersion: (resolved) => {
            if (resolved.dirty && args.version === undefined) {
              throw new InputError(
                "--version",
                undefined,
                `must be given: ${folder} has uncommitted changes, and the version computed from its last commit (${resolved.version}) would be published with content no commit holds; commit them, or pass --version`,
              );
            }
            versionKnown(resolved.version);
          },
          // A new version is uploaded while its zip is written (lib/publish/publish).
          follow: (zip) => followed(zip),
        }).then(async ({ resolved, info }) => {
          await inspect(info.path, "--folder");
          builtZip = info.path;
          reporter.note(
            `package: ${info.path}: version ${info.version} (from ${versionSource(resolved)}), ` +
              `${info.files} files, ${(info.bytes / 1e6).toFixed(1)} MB, sha256 ${info.sha256.slice(0, 12)}`,
          );
          return { path: info.path, sha256: info.sha256, bytes: info.bytes, version: info.version };
        });
        build.catch(() => undefined); // awaited through `pkg`
        version = await Promise.race([resolvedVersion, build.then((info) => info.version)]);
        // The zip once built (reused, or replacing one), or as it is written.
        pkg = Promise.race([
          build,
          writing.then((zip) => ({ path: zip.path, growing: zip, built: build })),
        ]);
      } else {
        const zip = args.zip as string;
        await inspect(zip, "--zip");
        version = args.version as string;
        // The package's build record spares reading the zip again (about 60 ms for 24 MB).
        pkg = zipDigest(zip).then((digest) => ({ path: zip, ...digest }));
      }
      pkg.catch(() => undefined); // awaited by publishPackage, or below
      // The build's outcome: the command ends only after it, whatever happened to the publish.
      const built: Promise<{ error?: unknown }> = pkg
        .then((p) => ("built" in p ? p.built : p))
        .then(
          () => ({}),
          (error: unknown) => ({ error }),
        );
      const credentials = resolveCredentials();
      // A failed credential is reported once the build is over, after the build's own error.
      await ensureToken(credentials.arm, armScope(args.armEndpoint)).catch(async (err: unknown) => {
        const { error } = await built;
        throw error ?? err;
      });
      try {
        const result = await publishPackage({
          target: {
            endpoint: args.armEndpoint,
            credential: credentials.arm,
            subscriptionId: args.subscriptionId,
            resourceGroup: args.resourceGroup,
            account: args.account,
          },
          storageCredential: credentials.storage,
          applicationId: args.applicationId,
          version,
          displayName: args.displayName,
          package: pkg,
          setDefault: args.setDefault,
          retainVersions: args.retainVersions,
          restartPending: args.restartPending,
          ...batchAccess(batchDataCredential(process.env, credentials), args.batchEndpoint),
          onEvent: (e) => reporter.onEvent(e),
        });
        if (args.json) {
          // With --folder, where the zip was built comes first.
          const shown = builtZip === undefined ? result : { zip: builtZip, ...result };
          process.stdout.write(`${JSON.stringify(shown)}\n`);
        } else if (result.outcome === "unchanged") {
          process.stdout.write(
            `unchanged: ${result.applicationId} ${result.version} is already active with this zip (nothing uploaded)\n`,
          );
        } else {
          process.stdout.write(
            `published: ${result.applicationId} ${result.version} is Active ` +
              `(${(result.bytesUploaded / 1e6).toFixed(1)} MB uploaded)\n`,
          );
        }
        ctx.setExitCode(0);
      } finally {
        await built;
        reporter.stop();
      }
    });
}
