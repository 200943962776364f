/**
 * Where the Azure SDK packages load from: as installed, or, in the CLI, from the one-file bundles
 * `npm run build` writes beside it (scripts/sdkBundles.js, dist/vendor/): each loads about 50 ms
 * sooner than its packages' several hundred files. Only the CLI's entry points here at the
 * bundles; a Pulumi program, its dynamic providers and the tests load the packages.
 */
import type * as armBatch from "@azure/arm-batch";
import type * as coreRest from "@azure/core-rest-pipeline";
import type * as identity from "@azure/identity";
import type * as storageBlob from "@azure/storage-blob";

/** Each bundle's file name in the bundle folder (scripts/sdkBundles.js writes these). */
export const SDK_BUNDLE_FILES = {
  arm: "azure-arm.js",
  storageBlob: "azure-storage-blob.js",
  identity: "azure-identity.js",
} as const;

export type SdkBundles = Partial<Record<keyof typeof SDK_BUNDLE_FILES, string>>;

/**
 * What the CLI uses of each SDK, per bundle: each bundle exports these names only, under the
 * namespace named here (scripts/sdkBundles.js reads this list from the compiled module and
 * imports each namespace's names from its package in SDK_PACKAGES). Built from the packages' ES
 * modules, a bundle leaves out what none of its names reaches. Using another name is a type
 * error until it is added here.
 */
export const SDK_EXPORTS = {
  arm: {
    armBatch: ["BatchManagementClient"],
    rest: [
      "RestError",
      "bearerTokenAuthenticationPolicy",
      "createDefaultHttpClient",
      "createHttpHeaders",
      "createPipelineFromOptions",
      "createPipelineRequest",
    ],
  },
  storageBlob: { storageBlob: ["AnonymousCredential", "BlockBlobClient"] },
  identity: { identity: ["DefaultAzureCredential"] },
} as const;

/** The package each namespace of SDK_EXPORTS comes from. */
export const SDK_PACKAGES = {
  armBatch: "@azure/arm-batch",
  rest: "@azure/core-rest-pipeline",
  storageBlob: "@azure/storage-blob",
  identity: "@azure/identity",
} as const;

/** The ARM client and its HTTP pipeline, from one bundle (one pipeline copy). */
export interface ArmSdk {
  armBatch: Pick<typeof armBatch, (typeof SDK_EXPORTS.arm.armBatch)[number]>;
  rest: Pick<typeof coreRest, (typeof SDK_EXPORTS.arm.rest)[number]>;
}

/** What the CLI uses of @azure/storage-blob. */
export type StorageBlobSdk = Pick<
  typeof storageBlob,
  (typeof SDK_EXPORTS.storageBlob.storageBlob)[number]
>;

/** What the CLI uses of @azure/identity. */
export type IdentitySdk = Pick<typeof identity, (typeof SDK_EXPORTS.identity.identity)[number]>;

/**
 * Where the choice is kept: a property of the process's global object, read at each call, not a
 * module variable. A dynamic provider's serialized functions capture module variables by value,
 * so a bundle path set in the deploying process would travel into the stack's state and fail on
 * another machine; a global is looked up where the provider runs (there: none, the packages).
 */
const BUNDLES_KEY = "__hpcBatchSdkBundles";

function bundles(): SdkBundles {
  return ((globalThis as Record<string, unknown>)[BUNDLES_KEY] as SdkBundles | undefined) ?? {};
}

/** The bundle files to load instead of the packages (the CLI's entry); `{}` for the packages. */
export function useSdkBundles(files: SdkBundles): void {
  (globalThis as Record<string, unknown>)[BUNDLES_KEY] = { ...files };
}

/* eslint-disable @typescript-eslint/no-require-imports */
/**
 * A bundle file as `require` loads it, compiled from its V8 code cache when that fits
 * (./bundleLoader). Required here, on first use: a dynamic provider's serialized text holds this
 * call, never the loader (the provider loads the packages).
 */
function fromBundle(file: string): unknown {
  return (require("./bundleLoader") as typeof import("./bundleLoader")).loadBundle(file);
}

/** @azure/arm-batch and @azure/core-rest-pipeline, loaded on first use. */
export function armSdk(): ArmSdk {
  const { arm } = bundles();
  if (arm !== undefined) return fromBundle(arm) as ArmSdk;
  return {
    armBatch: require("@azure/arm-batch") as typeof armBatch,
    rest: require("@azure/core-rest-pipeline") as typeof coreRest,
  };
}

/** @azure/storage-blob, loaded on first use. */
export function storageBlobSdk(): StorageBlobSdk {
  const file = bundles().storageBlob;
  if (file !== undefined) return (fromBundle(file) as { storageBlob: StorageBlobSdk }).storageBlob;
  return require("@azure/storage-blob") as typeof storageBlob;
}

/** @azure/identity, loaded on first use. */
export function identitySdk(): IdentitySdk {
  const file = bundles().identity;
  if (file !== undefined) return (fromBundle(file) as { identity: IdentitySdk }).identity;
  return require("@azure/identity") as typeof identity;
}
/* eslint-enable @typescript-eslint/no-require-imports */
