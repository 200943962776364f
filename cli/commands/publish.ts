/**
 * `hpc-batch publish`: publishes a package zip as an active Batch application package version
 * without Pulumi, with the same library and rules as the ApplicationPackage component (a drop-in
 * for the classic pipeline's `az batch application package create` + `activate`):
 * creates the application and version if needed, uploads, activates and waits for Active; an
 * unchanged zip is a no-op, a changed zip under an existing version is refused.
 * Every flag is checked before anything is sent (exit 2 on bad input, 1 on failed work).
 */
import * as fs from "node:fs";
import type { Command } from "commander";
import { DEFAULT_ARM_ENDPOINT } from "../../lib/azure/credentials";
import { InputError, throwIfAny } from "../../lib/core/errors";
import {
  GUID_RE,
  isHttpsEndpoint,
  validateApplicationId,
  validateApplicationVersion,
  validateBatchAccountName,
  validateBatchEndpoint,
  validateResourceGroupName,
} from "../../lib/core/naming";
import { validateRetainVersions } from "../../lib/core/retention";
import type { CommandContext } from "../context";

interface PublishFlags {
  zip?: string;
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
  zip: string;
  subscriptionId: string;
  resourceGroup: string;
  account: string;
  applicationId: string;
  version: string;
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
  const zip = check(() => checkZip(required("--zip", flags.zip, "the package zip to publish")));
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
    validateApplicationVersion(
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
  check(() => {
    if (!isHttpsEndpoint(armEndpoint)) {
      throw new InputError(
        "--arm-endpoint",
        armEndpoint,
        "must be an https:// URL of a Resource Manager endpoint, e.g. https://management.azure.com",
      );
    }
  });
  const batchEndpoint = check(() => {
    if (flags.batchEndpoint === undefined) return undefined;
    return validateBatchEndpoint("--batch-endpoint", flags.batchEndpoint);
  });
  throwIfAny(errors);
  return {
    zip: zip as string,
    subscriptionId: subscriptionId as string,
    resourceGroup: resourceGroup as string,
    account: account as string,
    applicationId: applicationId as string,
    version: version as string,
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
      "Publish a package zip as an active Batch application package version (creates the " +
        "application and version if needed, uploads, activates, waits for Active)",
    )
    .option("--zip <file>", `${REQUIRED} the package zip (from \`hpc-batch package\`)`)
    .option("--subscription <id>", `${REQUIRED} Azure subscription id`)
    .option("--resource-group <name>", `${REQUIRED} resource group of the Batch account`)
    .option("--account <name>", `${REQUIRED} Batch account name`)
    .option("--application <id>", `${REQUIRED} Batch application id`)
    .option(
      "--version <version>",
      `${REQUIRED} version to publish; an active version is never overwritten`,
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
      await inspectZip(args.zip).catch((err: unknown) => {
        throw err instanceof InputError && err.field === "zip"
          ? new InputError("--zip", err.value, err.rule)
          : err;
      });
      const credentials = resolveCredentials();
      await ensureToken(credentials.arm, armScope(args.armEndpoint));
      // With --json, stdout carries only the result; progress goes to stderr.
      const reporter = createPublishReporter(args.json ? process.stderr : process.stdout);
      try {
        // The package's build record spares reading the zip again (about 60 ms for 24 MB).
        const digest = await zipDigest(args.zip);
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
          version: args.version,
          displayName: args.displayName,
          package: { path: args.zip, ...digest },
          setDefault: args.setDefault,
          retainVersions: args.retainVersions,
          restartPending: args.restartPending,
          ...batchAccess(batchDataCredential(process.env, credentials), args.batchEndpoint),
          onEvent: (e) => reporter.onEvent(e),
        });
        if (args.json) {
          process.stdout.write(`${JSON.stringify(result)}\n`);
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
        reporter.stop();
      }
    });
}
