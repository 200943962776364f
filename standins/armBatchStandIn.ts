/**
 * A Resource Manager stand-in for Batch applications and application packages (api-version
 * 2025-06-01), built on `startStandIn`. It is as strict as Azure documents, never kinder; each
 * rule names its source. The contract: Azure/azure-rest-api-specs
 * specification/batch/resource-manager/Microsoft.Batch/stable/2025-06-01/BatchManagement.json and
 * its examples (vendored in tests/fixtures/azure-rest-api-specs/batch-2025-06-01; the answers'
 * shapes are checked against them in tests/contract).
 * - PUT application: optional body `{properties:{allowUpdates, displayName}}` (ApplicationCreate).
 * - PATCH application: body required (ApplicationUpdate); `defaultVersion` must name an active
 *   version ("Only then may defaultVersion point at it", batch-facts.md).
 * - allowUpdates false locks existing packages: "existing application packages can't be updated
 *   or deleted, but new application package versions can still be added" (Microsoft Learn,
 *   batch-application-packages.md; Azure/BatchExplorer pull 832; azure-powershell issue 23809).
 *   So a PUT of an existing version (Pending or Active) and a DELETE of any version of a locked
 *   application answer 409 and are recorded as violations: hpc-batch must never send them.
 *   Activating an already active version of a locked application is an update too (409).
 * - PUT version: no body (ApplicationPackageCreate); answers `Pending` with `storageUrl` +
 *   `storageUrlExpiry` pointing at Azurite (a SAS, or none in token mode). With
 *   `autoStorageNoPermission: n`, the first n PUTs of a new version answer 409
 *   AutoStorageNoPermission and create nothing (Microsoft support article
 *   use-managed-identities-azure-batch-account-pool: the account's identity has no role on
 *   auto-storage yet).
 * - POST activate: body exactly `{"format":"zip"}`; activates only when the blob is committed and
 *   is a zip whose sha256 matches its `sha256` metadata; answers the package `Active` (or `Pending`
 *   for `pendingReadsAfterActivate` GETs, to exercise the wait). Never a storageUrl.
 * - GET version carries the storageUrl at 2025-06-01 unless `storageUrlOnGet` is false: "GET and
 *   POST (activate) do not populate them for API versions newer than 2025-06-01"
 *   (Azure/azure-rest-api-specs pull 43544); false models those newer versions. LIST never does
 *   (ApplicationPackageList example).
 * - DELETE of the default version clears the default (batch-facts.md); DELETE of a version a pool
 *   references by version is refused (409) and recorded as a violation.
 * - GET batch account: the account's endpoint, identity and auto-storage (BatchAccount_Get).
 * - `inject`: replies sent instead of the real answer, per request kind, in order (429, 5xx with
 *   an empty body...), to test retries and messages.
 * Every request must carry `Authorization: Bearer <token>`; `counts` tallies requests by kind.
 */
import { createHash, randomUUID } from "node:crypto";
import type { Azurite } from "./azurite";
import {
  armError,
  checkArmCaller,
  startStandIn,
  type RecordedRequest,
  type Route,
  type StandIn,
  type StandInReply,
} from "./httpsStandIn";

export const API_VERSION = "2025-06-01";

export interface StandInPackage {
  name: string;
  state: "Pending" | "Active";
  container: string;
  blob: string;
  lastActivationTime?: string;
  /** GETs left that still answer Pending after an activation. */
  pendingReads: number;
}

export interface StandInApplication {
  name: string;
  displayName?: string;
  allowUpdates: boolean;
  defaultVersion?: string;
  versions: Map<string, StandInPackage>;
}

export interface ArmBatchStandInOptions {
  azurite: Azurite;
  subscriptionId: string;
  resourceGroup: string;
  account: string;
  /** The bearer token every request must carry. */
  token: string;
  /** `sas` (auto-storage with storage keys, default) or `token` (managed identity: no SAS). */
  storageAuth?: "sas" | "token";
  /**
   * Return storageUrl from GET version too. Defaults to true: with api-version 2025-06-01 GET
   * still returns it; only newer API versions return it from PUT alone (Azure/azure-rest-api-specs
   * pull 43544). Set false to model the newer behaviour.
   */
  storageUrlOnGet?: boolean;
  /** Rewrites every storageUrl handed out (e.g. through a counting proxy). */
  rewriteStorageUrl?: (url: string) => string;
  /** Activations refused (409) before one succeeds, to model a failed activation. */
  activateFailures?: number;
  /** GETs that answer Pending after an activation before Active. Defaults to 0. */
  pendingReadsAfterActivate?: number;
  /** Check the whole blob (download + sha256) on activate, or only that it is committed. */
  verifyOnActivate?: "content" | "exists";
  /** Pools in the account and their package references. */
  pools?: { name: string; applicationPackages: { id: string; version?: string }[] }[];
  /** PUTs of a new version answered 409 AutoStorageNoPermission before one succeeds. */
  autoStorageNoPermission?: number;
  /** Replies sent instead of the real answer, per request kind (e.g. `POST activate`), in order. */
  inject?: Record<string, StandInReply[]>;
  /** The auto-storage authentication mode the account reports. Defaults to BatchAccountManagedIdentity. */
  autoStorageAuthenticationMode?: "StorageKeys" | "BatchAccountManagedIdentity";
}

export interface ArmBatchStandIn extends StandIn {
  applications: Map<string, StandInApplication>;
  /** Requests by kind, e.g. `PUT version`, `POST activate`, `GET version`. */
  counts: Record<string, number>;
  /** The account's resource id prefix, `/subscriptions/.../batchAccounts/<account>`. */
  accountId: string;
  /** Adds an application and versions as if published earlier (blobs included). */
  seed(
    app: string,
    versions: { name: string; state?: "Active" | "Pending"; lastActivationTime?: string }[],
    props?: { defaultVersion?: string; allowUpdates?: boolean; displayName?: string },
  ): Promise<void>;
  pools: NonNullable<ArmBatchStandInOptions["pools"]>;
}

const APP_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const VERSION_NAME = /^[a-zA-Z0-9_-][a-zA-Z0-9_.-]{0,63}$/;

/**
 * ARM sends a resource's etag in the `ETag` header as well as in the body: every single-resource
 * answer in the 2025-06-01 examples (ApplicationGet, ApplicationPackageCreate, ...) shows
 * `headers.ETag`. Added to each answer whose body has an etag.
 */
const withEtagHeader = (routes: Route[]): Route[] =>
  routes.map((route) => ({
    ...route,
    async handle(req, params) {
      const reply = await route.handle(req, params);
      const etag = (reply.body as { etag?: unknown } | undefined)?.etag;
      return typeof etag === "string"
        ? { ...reply, headers: { ETag: etag, ...reply.headers } }
        : reply;
    },
  }));

const err = armError;

/** The end-of-central-directory signature: a zip has one in its last 64 KiB + 22 bytes. */
function looksLikeZip(b: Buffer): boolean {
  return (
    b.length >= 22 &&
    b.readUInt32LE(0) === 0x04034b50 &&
    b.subarray(Math.max(0, b.length - 65_557)).includes(Buffer.from([0x50, 0x4b, 0x05, 0x06]))
  );
}

export async function startArmBatchStandIn(opts: ArmBatchStandInOptions): Promise<ArmBatchStandIn> {
  const applications = new Map<string, StandInApplication>();
  const counts: Record<string, number> = {};
  const pools = opts.pools ?? [];
  const accountId = `/subscriptions/${opts.subscriptionId}/resourceGroups/${opts.resourceGroup}/providers/Microsoft.Batch/batchAccounts/${opts.account}`;
  const violations: string[] = [];
  let clock = Date.UTC(2025, 0, 1);
  const tick = () => new Date((clock += 60_000)).toISOString();

  const key = (s: string) => s.toLowerCase();
  const appBody = (a: StandInApplication) => ({
    id: `${accountId}/applications/${a.name}`,
    name: a.name,
    type: "Microsoft.Batch/batchAccounts/applications",
    etag: 'W/"0x8D64F915BDF7F00"',
    properties: {
      allowUpdates: a.allowUpdates,
      ...(a.displayName !== undefined ? { displayName: a.displayName } : {}),
      ...(a.defaultVersion !== undefined ? { defaultVersion: a.defaultVersion } : {}),
    },
  });
  const storageUrl = (p: StandInPackage) =>
    (opts.rewriteStorageUrl ?? ((u: string) => u))(
      opts.storageAuth === "token"
        ? opts.azurite.blobUrl(p.container, p.blob)
        : opts.azurite.sasUrl(p.container, p.blob, {
            permissions: "rcw",
            expiresOn: new Date(Date.now() + 4 * 3600_000),
          }),
    );
  let activateFailures = opts.activateFailures ?? 0;
  const pkgBody = (a: StandInApplication, p: StandInPackage, withUrl: boolean) => ({
    id: `${accountId}/applications/${a.name}/versions/${p.name}`,
    name: p.name,
    type: "Microsoft.Batch/batchAccounts/applications/versions",
    etag: 'W/"0x8D64FEC83A3B436"',
    properties: {
      state: p.state,
      ...(p.state === "Active" ? { format: "zip", lastActivationTime: p.lastActivationTime } : {}),
      ...(withUrl
        ? {
            storageUrl: storageUrl(p),
            storageUrlExpiry: new Date(Date.now() + 4 * 3600_000).toISOString(),
          }
        : {}),
    },
  });

  /** Checks the caller, the account and the names; answers the error reply when one fails. */
  const guard = (
    req: RecordedRequest,
    params: Record<string, string>,
    kind: string,
  ): StandInReply | undefined => {
    const refused = checkArmCaller(opts, { counts, violations }, req, params, kind);
    if (refused) return refused;
    if (params.app !== undefined && !APP_NAME.test(params.app)) {
      violations.push(`${kind}: application name ${params.app}`);
      return err(400, "InvalidParameter", "applicationName");
    }
    if (params.version !== undefined && !VERSION_NAME.test(params.version)) {
      violations.push(`${kind}: version name ${params.version}`);
      return err(400, "InvalidParameter", "versionName");
    }
    const injected = opts.inject?.[kind]?.shift();
    if (injected) return injected;
    return undefined;
  };
  /** The refusal of a locked application (allowUpdates false); see the module comment. */
  const locked = (kind: string, app: StandInApplication, version: string): StandInReply => {
    violations.push(
      `${kind} ${app.name}/${version}: the application is locked (allowUpdates false)`,
    );
    return err(
      409,
      "Conflict",
      `The application ${app.name} does not allow updates: existing application packages can't be updated or deleted.`,
    );
  };
  let autoStorageNoPermission = opts.autoStorageNoPermission ?? 0;
  const findApp = (name: string) => applications.get(key(name));
  const appMissing = (name: string) =>
    err(404, "ApplicationNotFound", `The specified application ${name} does not exist.`);
  const versionMissing = (name: string) =>
    err(
      404,
      "ApplicationPackageNotFound",
      `The specified application package ${name} does not exist.`,
    );

  /** Only these application properties exist in the contract. */
  const checkAppBody = (kind: string, body: unknown, required: boolean): void => {
    if (body === undefined) {
      if (required) throw new Error(`${kind}: body required`);
      return;
    }
    const b = body as { properties?: Record<string, unknown> };
    const extra = Object.keys(b).filter((k) => k !== "properties");
    const props = Object.keys(b.properties ?? {}).filter(
      (k) => !["allowUpdates", "displayName", "defaultVersion"].includes(k),
    );
    if (extra.length || props.length) {
      throw new Error(`${kind}: unexpected fields ${[...extra, ...props].join(", ")}`);
    }
  };

  const newPackage = (app: string, name: string): StandInPackage => ({
    name,
    state: "Pending",
    container: `app-${key(app)}-${createHash("sha1").update(key(app)).digest("hex").slice(0, 16)}`,
    blob: `${key(app)}-${key(name)}-${randomUUID()}.zip`,
    pendingReads: 0,
  });
  const ensureContainer = (name: string) =>
    opts.azurite.service.getContainerClient(name).createIfNotExists();

  const prefix = String.raw`^/subscriptions/(?<sub>[^/]+)/resourceGroups/(?<rg>[^/]+)/providers/Microsoft\.Batch/batchAccounts/(?<account>[^/]+)`;
  const appPath = new RegExp(`${prefix}/applications/(?<app>[^/]+)$`);
  const versionPath = new RegExp(
    `${prefix}/applications/(?<app>[^/]+)/versions/(?<version>[^/]+)$`,
  );

  const standIn = await startStandIn(
    withEtagHeader([
      {
        method: "PUT",
        path: appPath,
        apiVersion: API_VERSION,
        handle(req, p) {
          const denied = guard(req, p, "PUT application");
          if (denied) return denied;
          checkAppBody("PUT application", req.body, false);
          const props = (req.body as { properties?: Partial<StandInApplication> } | undefined)
            ?.properties;
          const existing = findApp(p.app);
          const a: StandInApplication = existing ?? {
            name: p.app,
            allowUpdates: true,
            versions: new Map(),
          };
          if (props?.allowUpdates !== undefined) a.allowUpdates = props.allowUpdates;
          if (props?.displayName !== undefined) a.displayName = props.displayName;
          applications.set(key(p.app), a);
          return { status: 200, body: appBody(a) };
        },
      },
      {
        method: "GET",
        path: appPath,
        apiVersion: API_VERSION,
        handle(req, p) {
          const denied = guard(req, p, "GET application");
          if (denied) return denied;
          const a = findApp(p.app);
          return a ? { status: 200, body: appBody(a) } : appMissing(p.app);
        },
      },
      {
        method: "PATCH",
        path: appPath,
        apiVersion: API_VERSION,
        handle(req, p) {
          const denied = guard(req, p, "PATCH application");
          if (denied) return denied;
          checkAppBody("PATCH application", req.body, true);
          const a = findApp(p.app);
          if (!a) return appMissing(p.app);
          const props = (req.body as { properties: Partial<StandInApplication> }).properties;
          if (props.defaultVersion !== undefined) {
            const v = a.versions.get(key(props.defaultVersion));
            if (!v || v.state !== "Active") {
              violations.push(
                `PATCH application: defaultVersion ${props.defaultVersion} is not active`,
              );
              return err(409, "InvalidApplicationPackageReferences", props.defaultVersion);
            }
            a.defaultVersion = v.name;
          }
          if (props.displayName !== undefined) a.displayName = props.displayName;
          if (props.allowUpdates !== undefined) a.allowUpdates = props.allowUpdates;
          return { status: 200, body: appBody(a) };
        },
      },
      {
        method: "PUT",
        path: versionPath,
        apiVersion: API_VERSION,
        async handle(req, p) {
          const denied = guard(req, p, "PUT version");
          if (denied) return denied;
          if (req.body !== undefined) throw new Error("PUT version: hpc-batch sends no body");
          const a = findApp(p.app);
          if (!a) return appMissing(p.app);
          let v = a.versions.get(key(p.version));
          if (v && !a.allowUpdates) return locked("PUT version", a, v.name);
          if (!v && autoStorageNoPermission > 0) {
            autoStorageNoPermission--;
            return err(
              409,
              "AutoStorageNoPermission",
              "The managed identity does not have permission to access auto storage account.",
            );
          }
          if (!v) {
            v = newPackage(p.app, p.version);
            a.versions.set(key(p.version), v);
          }
          await ensureContainer(v.container);
          return { status: 200, body: pkgBody(a, v, true) };
        },
      },
      {
        method: "GET",
        path: versionPath,
        apiVersion: API_VERSION,
        handle(req, p) {
          const denied = guard(req, p, "GET version");
          if (denied) return denied;
          const a = findApp(p.app);
          if (!a) return appMissing(p.app);
          const v = a.versions.get(key(p.version));
          if (!v) return versionMissing(p.version);
          if (v.state === "Active" && v.pendingReads > 0) {
            v.pendingReads--;
            return { status: 200, body: pkgBody(a, { ...v, state: "Pending" }, false) };
          }
          return { status: 200, body: pkgBody(a, v, opts.storageUrlOnGet ?? true) };
        },
      },
      {
        method: "DELETE",
        path: versionPath,
        apiVersion: API_VERSION,
        async handle(req, p) {
          const denied = guard(req, p, "DELETE version");
          if (denied) return denied;
          const a = findApp(p.app);
          if (!a) return appMissing(p.app);
          const v = a.versions.get(key(p.version));
          if (!v) return { status: 204 };
          if (!a.allowUpdates) return locked("DELETE version", a, v.name);
          if (
            pools.some((pool) =>
              pool.applicationPackages.some(
                (r) =>
                  key(r.id) === key(`${accountId}/applications/${a.name}`) &&
                  r.version !== undefined &&
                  key(r.version) === key(v.name),
              ),
            )
          ) {
            violations.push(`DELETE version ${p.app}/${p.version}: a pool references it`);
            return err(409, "ApplicationPackageInUse", v.name);
          }
          a.versions.delete(key(p.version));
          if (a.defaultVersion !== undefined && key(a.defaultVersion) === key(v.name)) {
            a.defaultVersion = undefined;
          }
          await opts.azurite.service
            .getContainerClient(v.container)
            .deleteBlob(v.blob)
            .catch(() => undefined);
          return { status: 200 };
        },
      },
      {
        method: "GET",
        path: new RegExp(`${prefix}/applications/(?<app>[^/]+)/versions$`),
        apiVersion: API_VERSION,
        handle(req, p) {
          const denied = guard(req, p, "LIST versions");
          if (denied) return denied;
          const a = findApp(p.app);
          if (!a) return appMissing(p.app);
          return {
            status: 200,
            body: { value: [...a.versions.values()].map((v) => pkgBody(a, v, false)) },
          };
        },
      },
      {
        method: "POST",
        path: new RegExp(
          `${prefix}/applications/(?<app>[^/]+)/versions/(?<version>[^/]+)/activate$`,
        ),
        apiVersion: API_VERSION,
        async handle(req, p) {
          const denied = guard(req, p, "POST activate");
          if (denied) return denied;
          if (JSON.stringify(req.body) !== JSON.stringify({ format: "zip" })) {
            throw new Error(`POST activate: body ${JSON.stringify(req.body)} != {"format":"zip"}`);
          }
          const a = findApp(p.app);
          if (!a) return appMissing(p.app);
          const v = a.versions.get(key(p.version));
          if (!v) return versionMissing(p.version);
          if (v.state === "Active" && !a.allowUpdates) return locked("POST activate", a, v.name);
          if (activateFailures > 0) {
            activateFailures--;
            return err(409, "ActivationFailed", "activation refused by the test");
          }
          const blob = opts.azurite.service.getContainerClient(v.container).getBlobClient(v.blob);
          const props = await blob.getProperties().catch(() => undefined);
          if (!props) {
            return err(
              409,
              "ApplicationPackageBlobNotFound",
              "The application package blob was not uploaded.",
            );
          }
          if ((opts.verifyOnActivate ?? "content") === "content") {
            const content = await blob.downloadToBuffer();
            const sha = createHash("sha256").update(content).digest("hex");
            if (!looksLikeZip(content) || sha !== props.metadata?.sha256) {
              return err(
                409,
                "InvalidApplicationPackage",
                "The application package is not a valid zip.",
              );
            }
          }
          v.state = "Active";
          v.lastActivationTime = tick();
          v.pendingReads = opts.pendingReadsAfterActivate ?? 0;
          const answer = v.pendingReads > 0 ? { ...v, state: "Pending" as const } : v;
          return { status: 200, body: pkgBody(a, answer, false) };
        },
      },
      {
        method: "GET",
        path: new RegExp(`${prefix}$`),
        apiVersion: API_VERSION,
        handle(req, p) {
          const denied = guard(req, p, "GET account");
          if (denied) return denied;
          // Shape of the REST spec's BatchAccountGet example (2025-06-01), trimmed to what is read.
          const identityId = `/subscriptions/${opts.subscriptionId}/resourceGroups/${opts.resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-${opts.account}`;
          return {
            status: 200,
            body: {
              id: accountId,
              name: opts.account,
              type: "Microsoft.Batch/batchAccounts",
              location: "westeurope",
              identity: {
                type: "UserAssigned",
                userAssignedIdentities: {
                  [identityId]: {
                    principalId: "22222222-2222-2222-2222-222222222222",
                    clientId: "33333333-3333-3333-3333-333333333333",
                  },
                },
              },
              properties: {
                accountEndpoint: `${opts.account}.westeurope.batch.azure.com`,
                provisioningState: "Succeeded",
                poolAllocationMode: "BatchService",
                autoStorage: {
                  storageAccountId: `/subscriptions/${opts.subscriptionId}/resourceGroups/${opts.resourceGroup}/providers/Microsoft.Storage/storageAccounts/st${opts.account}`,
                  lastKeySync: "2025-01-01T00:00:00.000Z",
                  authenticationMode:
                    opts.autoStorageAuthenticationMode ?? "BatchAccountManagedIdentity",
                  nodeIdentityReference: { resourceId: identityId },
                },
              },
            },
          };
        },
      },
      {
        method: "GET",
        path: new RegExp(`${prefix}/pools$`),
        apiVersion: API_VERSION,
        handle(req, p) {
          const denied = guard(req, p, "LIST pools");
          if (denied) return denied;
          return {
            status: 200,
            body: {
              value: pools.map((pool) => ({
                id: `${accountId}/pools/${pool.name}`,
                name: pool.name,
                type: "Microsoft.Batch/batchAccounts/pools",
                properties: {
                  vmSize: "STANDARD_D2S_V5",
                  applicationPackages: pool.applicationPackages,
                },
              })),
            },
          };
        },
      },
    ]),
  );

  return {
    ...standIn,
    // The routes' own violations and the contract checks above, in one list.
    get violations() {
      return [...standIn.violations, ...violations];
    },
    applications,
    counts,
    accountId,
    pools,
    async seed(app, versions, props = {}) {
      const a: StandInApplication = findApp(app) ?? {
        name: app,
        allowUpdates: props.allowUpdates ?? false,
        displayName: props.displayName,
        versions: new Map(),
      };
      for (const s of versions) {
        const v = newPackage(app, s.name);
        v.state = s.state ?? "Active";
        if (v.state === "Active") v.lastActivationTime = s.lastActivationTime ?? tick();
        await ensureContainer(v.container);
        a.versions.set(key(s.name), v);
      }
      if (props.defaultVersion !== undefined) a.defaultVersion = props.defaultVersion;
      applications.set(key(app), a);
    },
  };
}
