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
import {
  DEFAULT_ARM_ENDPOINT,
  armScope,
  batchDataCredential,
  ensureToken,
  resolveCredentials,
} from "../../lib/credentials";
import { InputError } from "../../lib/errors";
import {
  GUID_RE,
  isHttpsEndpoint,
  validateApplicationId,
  validateApplicationVersion,
  validateBatchAccountName,
  validateResourceGroupName,
} from "../../lib/naming";
import { createPublishReporter } from "../../lib/progress";
import { hashFile, publishPackage } from "../../lib/publish";
import { validateRetainVersions } from "../../lib/retention";
import { inspectZip } from "../../lib/zipInspect";
import type { CommandContext } from "../main";

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

function required(flag: string, value: string | undefined, what: string): string {
  if (value === undefined || value === "")
    throw new InputError(flag, value, `must be given (${what})`);
  return value;
}

/** Checks every flag, in the order of the usage line; throws the first InputError. */
export function parsePublishFlags(flags: PublishFlags): PublishArgs {
  const zip = required("--zip", flags.zip, "the package zip to publish");
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
  const subscriptionId = required(
    "--subscription",
    flags.subscription,
    "the Azure subscription id",
  );
  if (!GUID_RE.test(subscriptionId)) {
    throw new InputError("--subscription", subscriptionId, "must be a subscription id (a GUID)");
  }
  const resourceGroup = validateResourceGroupName(
    "--resource-group",
    required("--resource-group", flags.resourceGroup, "the Batch account's resource group"),
  );
  const account = validateBatchAccountName(
    "--account",
    required("--account", flags.account, "the Batch account name"),
  );
  const applicationId = validateApplicationId(
    "--application",
    required("--application", flags.application, "the Batch application id"),
  );
  const version = validateApplicationVersion(
    "--version",
    required("--version", flags.version, "the version to publish"),
  );
  if (flags.displayName !== undefined && flags.displayName.trim() === "") {
    throw new InputError("--display-name", flags.displayName, "must not be empty");
  }
  let retainVersions: number | undefined;
  if (flags.retain !== undefined) {
    const n = /^\d+$/.test(flags.retain) ? Number(flags.retain) : Number.NaN;
    retainVersions = validateRetainVersions("--retain", Number.isNaN(n) ? flags.retain : n);
  }
  const armEndpoint = flags.armEndpoint ?? DEFAULT_ARM_ENDPOINT;
  if (!isHttpsEndpoint(armEndpoint)) {
    throw new InputError(
      "--arm-endpoint",
      armEndpoint,
      "must be an https:// URL of a Resource Manager endpoint, e.g. https://management.azure.com",
    );
  }
  let batchEndpoint: string | undefined;
  if (flags.batchEndpoint !== undefined) {
    const withScheme = /^[a-z]+:\/\//i.test(flags.batchEndpoint)
      ? flags.batchEndpoint
      : `https://${flags.batchEndpoint}`;
    if (!isHttpsEndpoint(withScheme)) {
      throw new InputError(
        "--batch-endpoint",
        flags.batchEndpoint,
        "must be the Batch account's endpoint, e.g. mybatch.westeurope.batch.azure.com or an https:// URL",
      );
    }
    batchEndpoint = withScheme.replace(/\/+$/, "");
  }
  return {
    zip,
    subscriptionId,
    resourceGroup,
    account,
    applicationId,
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
      "Publish a package zip as an active Batch application package version (creates the " +
        "application and version if needed, uploads, activates, waits for Active)",
    )
    .option("--zip <file>", "the package zip (from `hpc-batch package`)")
    .option("--subscription <id>", "Azure subscription id")
    .option("--resource-group <name>", "resource group of the Batch account")
    .option("--account <name>", "Batch account name")
    .option("--application <id>", "Batch application id")
    .option("--version <version>", "version to publish; an active version is never overwritten")
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
      // Nodes unpack the zip as is: refuse what local-run refuses (a zip bomb, more than the
      // package limits, '..' or absolute paths, symlinks) before any request is sent.
      await inspectZip(args.zip).catch((err: unknown) => {
        throw err instanceof InputError && err.field === "zip"
          ? new InputError("--zip", err.value, err.rule)
          : err;
      });
      const credentials = resolveCredentials();
      await ensureToken(credentials.arm, armScope(args.armEndpoint));
      const batch = batchDataCredential(process.env, credentials);
      // With --json, stdout carries only the result; progress goes to stderr.
      const reporter = createPublishReporter(args.json ? process.stderr : process.stdout);
      try {
        const digest = await hashFile(args.zip);
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
          ...("unavailable" in batch
            ? { runningReferencesUnavailable: batch.unavailable }
            : { batch: { credential: batch, endpoint: args.batchEndpoint } }),
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
