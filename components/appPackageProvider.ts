/**
 * The dynamic provider behind the ApplicationPackage component: one resource per published
 * version (azure-native cannot upload nor activate a package). Its logic is plain functions that
 * tests call directly; `applicationPackageProvider` only wires them into Pulumi's interface.
 *
 * - State keeps the zip's sha256 and size, never the zip (its path is an input the diff ignores).
 * - diff: unchanged -> no changes (Pulumi calls nothing); the same version with another sha256 ->
 *   fails with the "bump the version" message, already in preview; another version (or account,
 *   application...) -> replacement: Pulumi creates the new version beside the old one.
 * - create: lib/publish/publish (application, version, upload, activate, wait Active, default, retention).
 * - update (default/retention/display name only): lib/publish/publish with the sha256 from state, so the
 *   upload and activation are skipped.
 * - delete: leaves the version in Batch. A replacement's delete of the old version must not
 *   remove it (pools may still use it until they move); retention prunes old versions.
 *
 * Serialization: Pulumi serializes `applicationPackageProvider` with its whole closure (this
 * module and the local modules it calls are captured by value, packages as `require(...)`), and
 * runs it in a separate process. So no client, credential or other live object is created at
 * module load: everything is built inside the calls. tests/components/appPackage.test.ts runs the
 * serialized text in a fresh Node process against the stand-ins.
 */
import type * as pulumi from "@pulumi/pulumi";
import {
  batchDataCredential,
  DEFAULT_ARM_ENDPOINT,
  resolveCredentials,
} from "../lib/azure/credentials";
import {
  batchAccess,
  immutableVersionMessage,
  publishPackage,
  type PublishOptions,
} from "../lib/publish/publish";
import {
  APPLICATION_ID_RULE,
  APPLICATION_VERSION_RULE,
  ID_RE,
  VERSION_RE,
} from "../lib/core/naming";
import { packageFileFailures, type PackageFileField } from "../lib/core/packageFile";
import { PROMOTE_RULE, PROMOTE_VALUES, type Promote } from "../lib/core/promote";
import { MAX_RETAIN_VERSIONS, RETAIN_VERSIONS_RULE } from "../lib/core/retention";

/** What the resource takes (flattened component args, defaults applied). */
export interface PackageVersionInputs {
  subscriptionId: string;
  resourceGroupName: string;
  accountName: string;
  applicationId: string;
  displayName: string;
  version: string;
  /** The zip on this machine; used to upload, never stored in the outputs. */
  packagePath: string;
  sha256: string;
  bytes: number;
  /** The version the package was built for, when known (PackageInfo.version). */
  packageVersion?: string;
  setDefault: boolean;
  /**
   * `on-publish`: the version becomes the default once active. `after-canary`: only when the
   * application has no default yet; later ones wait for `hpc-batch verify --promote`.
   */
  promote: Promote;
  /** Delete and recreate a Pending version whose upload URL cannot be had again. */
  restartPending: boolean;
  /** The Batch account's data-plane endpoint, to read running work's package references. */
  batchAccountEndpoint?: string;
  retainVersions: number;
  armEndpoint: string;
  /**
   * Always false: the application is created with `allowUpdates: false`. An input so the state
   * and the policy pack (application-no-updates) see it.
   */
  allowUpdates: false;
}

/** What the state keeps. */
export interface PackageVersionOutputs extends Omit<PackageVersionInputs, "packagePath"> {
  state: "Active";
  applicationResourceId: string;
  packageReference: { id: string; version: string };
}

/** Properties whose change means another Batch version: Pulumi creates it, then "deletes" the old. */
export const REPLACE_PROPERTIES = [
  "subscriptionId",
  "resourceGroupName",
  "accountName",
  "applicationId",
  "version",
] as const;
/** Properties applied in place. */
export const UPDATE_PROPERTIES = [
  "displayName",
  "setDefault",
  "promote",
  "retainVersions",
] as const;

/**
 * The value Pulumi passes for an input not known yet (in preview): `pulumi.runtime.unknownValue`,
 * spelled out because this module only imports Pulumi's types.
 */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/**
 * A rule as a failure line gives it: without its closing explanation in parentheses (Pulumi lists
 * a resource's failures together, each against its property).
 */
function shortRule(rule: string): string {
  return rule.replace(/ \([^()]*\)$/, "");
}

/** The zip's fields as the resource names them. */
const PACKAGE_PROPERTIES: Record<PackageFileField, keyof PackageVersionInputs> = {
  sha256: "sha256",
  bytes: "bytes",
  path: "packagePath",
};

/** Checks resolved inputs; Pulumi shows each failure against its property (also in preview). */
export function checkPackageVersionInputs(
  news: Partial<PackageVersionInputs>,
): { property: string; reason: string }[] {
  const failures: { property: string; reason: string }[] = [];
  const known = (property: keyof PackageVersionInputs) => news[property] !== UNKNOWN;
  const fail = (property: keyof PackageVersionInputs, reason: string) => {
    if (known(property)) failures.push({ property, reason });
  };
  if (typeof news.applicationId !== "string" || !ID_RE.test(news.applicationId)) {
    fail("applicationId", APPLICATION_ID_RULE);
  }
  if (typeof news.version !== "string" || !VERSION_RE.test(news.version)) {
    fail("version", `${shortRule(APPLICATION_VERSION_RULE)} (no '+')`);
  }
  // The zip's fields by the component's rules, each naming the PackageInfo field it comes from.
  const zipFailures = packageFileFailures(
    { path: news.packagePath, sha256: news.sha256, bytes: news.bytes },
    (value) => value !== UNKNOWN,
  );
  for (const field of ["sha256", "bytes", "path"] as const) {
    const failure = zipFailures.find((f) => f.field === field);
    if (failure) {
      fail(PACKAGE_PROPERTIES[field], `${shortRule(failure.rule)} (PackageInfo.${field})`);
    }
  }
  if (!PROMOTE_VALUES.includes(news.promote as Promote)) {
    fail("promote", PROMOTE_RULE);
  }
  if (news.allowUpdates !== false) {
    fail("allowUpdates", "must be false: a published package version never changes content");
  }
  if (
    typeof news.retainVersions !== "number" ||
    !Number.isInteger(news.retainVersions) ||
    news.retainVersions < 1 ||
    news.retainVersions > MAX_RETAIN_VERSIONS
  ) {
    fail("retainVersions", shortRule(RETAIN_VERSIONS_RULE));
  }
  if (
    news.packageVersion !== undefined &&
    typeof news.version === "string" &&
    known("packageVersion") &&
    known("version") &&
    news.packageVersion !== news.version
  ) {
    fail(
      "version",
      `the package was built for version ${news.packageVersion}, not ${news.version}: build it with the version you publish`,
    );
  }
  return failures;
}

const same = (a: unknown, b: unknown) =>
  typeof a === "string" && typeof b === "string" ? a.toLowerCase() === b.toLowerCase() : a === b;

export function diffPackageVersion(
  olds: PackageVersionOutputs,
  news: PackageVersionInputs,
): pulumi.dynamic.DiffResult {
  const replaces = REPLACE_PROPERTIES.filter((k) => !same(olds[k], news[k]));
  if (replaces.length === 0 && news.sha256 !== UNKNOWN && olds.sha256 !== news.sha256) {
    throw new Error(
      immutableVersionMessage(news.applicationId, news.version, olds.sha256, news.sha256),
    );
  }
  // State written before `promote` existed meant "on-publish": not a change.
  const before = { ...olds, promote: olds.promote ?? "on-publish" };
  const updates = UPDATE_PROPERTIES.filter((k) => before[k] !== news[k]);
  // An unknown sha256 (preview) may hide a new zip; `up` decides with the real one.
  const maybeNewZip = news.sha256 === UNKNOWN;
  return {
    changes: replaces.length > 0 || updates.length > 0 || maybeNewZip,
    replaces: [...replaces],
    deleteBeforeReplace: false,
    stables: replaces.length === 0 ? ["applicationResourceId", "packageReference", "state"] : [],
  };
}

/** The Batch version resource id, the resource's Pulumi id. */
export function packageVersionId(applicationResourceId: string, version: string): string {
  return `${applicationResourceId}/versions/${version}`;
}

function publishOptions(inputs: PackageVersionInputs, knownSha256?: string): PublishOptions {
  const credentials = resolveCredentials();
  return {
    target: {
      endpoint: inputs.armEndpoint || DEFAULT_ARM_ENDPOINT,
      credential: credentials.arm,
      subscriptionId: inputs.subscriptionId,
      resourceGroup: inputs.resourceGroupName,
      account: inputs.accountName,
    },
    storageCredential: credentials.storage,
    applicationId: inputs.applicationId,
    version: inputs.version,
    displayName: inputs.displayName,
    package: { path: inputs.packagePath, sha256: inputs.sha256, bytes: inputs.bytes },
    setDefault: inputs.setDefault ? (inputs.promote === "after-canary" ? "if-unset" : true) : false,
    restartPending: inputs.restartPending === true,
    retainVersions: inputs.retainVersions,
    ...batchAccess(batchDataCredential(process.env, credentials), inputs.batchAccountEndpoint),
    knownSha256,
  };
}

function outputs(
  inputs: PackageVersionInputs,
  applicationResourceId: string,
): PackageVersionOutputs {
  // The zip's path stays out of the state: it differs between machines and means nothing later.
  const kept: Partial<PackageVersionInputs> = { ...inputs };
  delete kept.packagePath;
  return {
    ...(kept as Omit<PackageVersionInputs, "packagePath">),
    state: "Active",
    applicationResourceId,
    packageReference: { id: applicationResourceId, version: inputs.version },
  };
}

export async function createPackageVersion(
  inputs: PackageVersionInputs,
): Promise<{ id: string; outs: PackageVersionOutputs }> {
  const result = await publishPackage(publishOptions(inputs));
  return {
    id: packageVersionId(result.applicationResourceId, result.version),
    outs: outputs(inputs, result.applicationResourceId),
  };
}

export async function updatePackageVersion(
  olds: PackageVersionOutputs,
  news: PackageVersionInputs,
): Promise<{ outs: PackageVersionOutputs }> {
  if (olds.sha256 !== news.sha256) {
    throw new Error(
      immutableVersionMessage(news.applicationId, news.version, olds.sha256, news.sha256),
    );
  }
  const result = await publishPackage(publishOptions(news, olds.sha256));
  return { outs: outputs(news, result.applicationResourceId) };
}

/** The Pulumi dynamic provider; each method delegates to a function above. */
export const applicationPackageProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds, news) {
    return { inputs: news, failures: checkPackageVersionInputs(news) };
  },
  async diff(_id, olds, news) {
    return diffPackageVersion(olds as PackageVersionOutputs, news as PackageVersionInputs);
  },
  async create(inputs) {
    return createPackageVersion(inputs as PackageVersionInputs);
  },
  async update(_id, olds, news) {
    return updatePackageVersion(olds as PackageVersionOutputs, news as PackageVersionInputs);
  },
  async delete() {
    // Deliberately nothing: see the module comment.
  },
};
