import * as pulumi from "@pulumi/pulumi";
import { validatePromote, type Promote } from "../lib/core/promote";
import {
  applicationPackageProvider,
  type PackageVersionInputs,
  type PackageVersionOutputs,
} from "./appPackageProvider";
import { checkKnown } from "../lib/core/validate";
import { DEFAULT_ARM_ENDPOINT } from "../lib/azure/credentials";
import { InputError, throwIfAny } from "../lib/core/errors";
import { PACKAGE_FILE_RULE, packageFileFailures, type PackageFile } from "../lib/core/packageFile";
import {
  batchApplicationResourceId,
  validateApplicationId,
  validateApplicationVersion,
  validateArmEndpoint,
} from "../lib/core/naming";
import { DEFAULT_RETAIN_VERSIONS, validateRetainVersions } from "../lib/core/retention";

/**
 * The zip to publish (path, sha256, bytes; `version`, when present, checked against the version
 * published): `PackageInfo` from `buildPackage` fits as is. Its own name stays for existing callers.
 */
export type ApplicationPackageFile = PackageFile;

export interface ApplicationPackageArgs {
  /** Subscription of the Batch account. Required. */
  subscriptionId: pulumi.Input<string>;
  /** Resource group of the Batch account. Required. */
  resourceGroupName: pulumi.Input<string>;
  /** Batch account name. Required; pass the account's output so the package waits for it. */
  accountName: pulumi.Input<string>;
  /** Batch application id. Required; 1 to 64 letters, digits, '-' or '_'. */
  applicationId: pulumi.Input<string>;
  /** The application's display name. Defaults to the application id. */
  displayName?: pulumi.Input<string>;
  /** Version to publish. Required; 1 to 64 letters, digits, '-', '_', '.'. A new version is added beside the old ones; an active version never changes content. */
  version: pulumi.Input<string>;
  /** The zip (path, sha256, bytes), e.g. the result of `buildPackage`. Required; the state keeps only its sha256 and size. */
  package: pulumi.Input<ApplicationPackageFile>;
  /** Point the application's default version at this one once active (pools that reference the application without a version then get it on nodes that join, reboot or are reimaged). Defaults to true. */
  setDefault?: pulumi.Input<boolean>;
  /** When the version becomes the default: "on-publish" (once active) or "after-canary" (the first release at once; later ones by `hpc-batch verify --promote` once a smoke task that references them passed on the pool). Defaults to "on-publish". */
  promote?: pulumi.Input<Promote>;
  /** A Pending version left by an interrupted run whose upload URL cannot be had again is deleted (it was never active, so nothing uses it) and created anew. Defaults to false: the run is refused with the way out. */
  restartPending?: pulumi.Input<boolean>;
  /** Newest versions kept; older ones are deleted (the application is unlocked for it and locked again), never the default, one a pool references or one running work references. Defaults to 5; 1 to 40. */
  retainVersions?: pulumi.Input<number>;
  /** The Batch account's data-plane endpoint (BatchAccount.accountEndpoint), where retention reads running work's package references. Defaults to the endpoint the account reports. */
  batchAccountEndpoint?: pulumi.Input<string>;
  /** Resource Manager endpoint (sovereign clouds, test servers). Defaults to "https://management.azure.com". */
  armEndpoint?: pulumi.Input<string>;
}

/**
 * The dynamic resource: one published, active version (see components/appPackageProvider). Its outputs
 * are `declare`d: a plain field declaration would be emitted as a class field (ES2022) and reset
 * the outputs the base constructor just set to undefined.
 */
class ApplicationPackageVersion extends pulumi.dynamic.Resource {
  declare public readonly state: pulumi.Output<"Active">;
  declare public readonly sha256: pulumi.Output<string>;
  declare public readonly applicationResourceId: pulumi.Output<string>;
  declare public readonly packageReference: pulumi.Output<
    PackageVersionOutputs["packageReference"]
  >;

  constructor(
    name: string,
    props: { [K in keyof PackageVersionInputs]: pulumi.Input<PackageVersionInputs[K]> },
    opts: pulumi.CustomResourceOptions,
  ) {
    super(
      applicationPackageProvider,
      name,
      { ...props, state: undefined, applicationResourceId: undefined, packageReference: undefined },
      opts,
      "batch",
      "ApplicationPackageVersion",
    );
  }
}

/**
 * A Batch application package version, published from a zip and active: creates the application
 * (`allowUpdates: false`) and the version, uploads the zip to the version's storage, activates
 * it, points the default version at it and prunes old versions. An unchanged zip is a no-op; a
 * changed zip under the same version fails with a message to bump the version. azure-native can
 * neither upload nor activate, so this runs through a dynamic provider.
 */
export class ApplicationPackage extends pulumi.ComponentResource {
  /** The Batch application id. */
  public readonly applicationId: pulumi.Output<string>;
  /** The published version. */
  public readonly version: pulumi.Output<string>;
  /** Always "Active" once created: the resource waits for activation. */
  public readonly state: pulumi.Output<"Active">;
  /** sha256 of the published zip. */
  public readonly sha256: pulumi.Output<string>;
  /** ARM id of the application. */
  public readonly applicationResourceId: pulumi.Output<string>;
  /**
   * `{ id, version }` for a pool's `applicationPackages`. It resolves only once the version is
   * active, so a pool that uses it never references an inactive package.
   */
  public readonly packageReference: pulumi.Output<{ id: string; version: string }>;
  /**
   * `{ id }` for a pool's `applicationPackages`: the application without a version, so nodes get
   * its default version when they join, reboot or are reimaged, and a release changes nothing in
   * the pool. The same value for every version, known in preview; it resolves only once this
   * version is published (active, and the default when `setDefault`). It needs the application to
   * have a default version: with `setDefault: false`, Azure refuses a pool that uses it
   * (`InvalidApplicationPackageReferences`) unless a default is set already.
   */
  public readonly applicationReference: pulumi.Output<{ id: string }>;

  constructor(name: string, args: ApplicationPackageArgs, opts?: pulumi.ComponentResourceOptions) {
    const type = `ApplicationPackage(${name})`;
    throwIfAny(
      checkKnown([
        [`${type}.applicationId`, args.applicationId, validateApplicationId],
        [`${type}.version`, args.version, validateApplicationVersion],
        [`${type}.retainVersions`, args.retainVersions, validateRetainVersions],
        [`${type}.promote`, args.promote, validatePromote],
        [`${type}.armEndpoint`, args.armEndpoint, validateArmEndpoint],
        [`${type}.package`, args.package, validatePackageFile],
      ]),
    );
    super("hpc-batch:batch:ApplicationPackage", name, {}, opts);

    const pkg = pulumi.output(args.package);
    const version = new ApplicationPackageVersion(
      `${name}-version`,
      {
        subscriptionId: args.subscriptionId,
        resourceGroupName: args.resourceGroupName,
        accountName: args.accountName,
        applicationId: args.applicationId,
        displayName: args.displayName ?? args.applicationId,
        version: args.version,
        packagePath: pkg.path,
        sha256: pkg.sha256,
        bytes: pkg.bytes,
        packageVersion: pkg.version,
        setDefault: args.setDefault ?? true,
        promote: args.promote ?? "on-publish",
        restartPending: args.restartPending ?? false,
        batchAccountEndpoint: args.batchAccountEndpoint,
        retainVersions: args.retainVersions ?? DEFAULT_RETAIN_VERSIONS,
        armEndpoint: args.armEndpoint ?? DEFAULT_ARM_ENDPOINT,
        allowUpdates: false,
      },
      // Children do not inherit dependsOn; the version's upload needs what the caller waits for
      // (the deployer's blob role in index.ts) in the engine's graph too.
      { parent: this, dependsOn: opts?.dependsOn },
    );

    this.applicationId = pulumi.output(args.applicationId);
    this.version = pulumi.output(args.version);
    this.state = version.state;
    this.sha256 = version.sha256;
    this.applicationResourceId = version.applicationResourceId;
    this.packageReference = version.packageReference;
    // Built from the inputs (known in preview, unlike a replaced version's outputs), yet waiting
    // for the version through its sha256 output.
    this.applicationReference = pulumi
      .all([
        version.sha256,
        args.subscriptionId,
        args.resourceGroupName,
        args.accountName,
        args.applicationId,
      ])
      .apply(([, sub, rg, account, app]) => ({
        id: batchApplicationResourceId(sub, rg, account, app),
      }));
    this.registerOutputs({
      applicationId: this.applicationId,
      version: this.version,
      state: this.state,
      sha256: this.sha256,
      applicationResourceId: this.applicationResourceId,
      packageReference: this.packageReference,
      applicationReference: this.applicationReference,
    });
  }
}

/** A package file description whose known fields are well formed. */
export function validatePackageFile(field: string, value: unknown): unknown {
  if (typeof value !== "object" || value === null) {
    throw new InputError(field, value, PACKAGE_FILE_RULE);
  }
  const known = (v: unknown) => v !== undefined && !pulumi.Output.isInstance(v);
  const [first] = packageFileFailures(value, known);
  if (first) throw new InputError(`${field}.${first.field}`, first.value, first.rule);
  return value;
}
