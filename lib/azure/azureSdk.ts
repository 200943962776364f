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
 * What the CLI uses of the ARM client and the HTTP pipeline it is built on. The ARM bundle exports
 * these names only (scripts/sdkBundles.js reads this list from the compiled module): built from
 * the packages' ES modules, it leaves out what none of them reaches. Using another name is a type
 * error until it is added here.
 */
export const ARM_SDK_EXPORTS = {
  armBatch: ["BatchManagementClient"],
  rest: [
    "RestError",
    "bearerTokenAuthenticationPolicy",
    "createDefaultHttpClient",
    "createHttpHeaders",
    "createPipelineFromOptions",
    "createPipelineRequest",
  ],
} as const;

/** The ARM client and its HTTP pipeline, from one bundle (one pipeline copy). */
export interface ArmSdk {
  armBatch: Pick<typeof armBatch, (typeof ARM_SDK_EXPORTS.armBatch)[number]>;
  rest: Pick<typeof coreRest, (typeof ARM_SDK_EXPORTS.rest)[number]>;
}

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
export function storageBlobSdk(): typeof storageBlob {
  const file = bundles().storageBlob;
  if (file !== undefined) return fromBundle(file) as typeof storageBlob;
  return require("@azure/storage-blob") as typeof storageBlob;
}

/** @azure/identity, loaded on first use. */
export function identitySdk(): typeof identity {
  const file = bundles().identity;
  if (file !== undefined) return fromBundle(file) as typeof identity;
  return require("@azure/identity") as typeof identity;
}
/* eslint-enable @typescript-eslint/no-require-imports */
