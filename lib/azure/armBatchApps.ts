/**
 * Resource Manager calls for Batch applications and application packages, through
 * @azure/arm-batch pinned to api-version 2025-06-01
 * (Azure/azure-rest-api-specs specification/batch/resource-manager/Microsoft.Batch/stable/2025-06-01/
 * BatchManagement.json: Application_Create/Get/Update, ApplicationPackage_Create/Get/List/Delete/
 * Activate, Pool_ListByBatchAccount, BatchAccount_Get). Versions before 2025-06-01 are announced
 * for retirement (Azure/Batch issue 140).
 *
 * Retries: the SDK retries 429 and 5xx answers itself (up to 4 times, exponential back-off);
 * `onRetry` is told of each retried answer so a user sees why a step is waiting.
 *
 * The client is built per call site, never at module load: the dynamic provider serializes the
 * functions that use this module, and a client holds an HTTP pipeline.
 */
import { dropFormDataPolicy } from "./pipeline";
import type { BatchManagementClient } from "@azure/arm-batch";
import type { PipelinePolicy } from "@azure/core-rest-pipeline";
import type { TokenCredential } from "@azure/identity";
import { armSdk, type ArmSdk } from "./azureSdk";
import { armScope } from "./credentials";
import { batchApplicationResourceId } from "../core/naming";

/** The Batch management API version every call uses. */
export const BATCH_API_VERSION = "2025-06-01";

/** Where the calls go and as whom. */
export interface BatchAccountTarget {
  /** Resource Manager endpoint, e.g. `https://management.azure.com`. */
  endpoint: string;
  credential: TokenCredential;
  subscriptionId: string;
  resourceGroup: string;
  account: string;
  /** Told of every 429 or 5xx answer the SDK is about to retry. */
  onRetry?: (r: RetriedAnswer) => void;
  /** The SDK's retry settings. Defaults to 4 retries, 0.5 s doubling up to 8 s. */
  retry?: { maxRetries?: number; retryDelayInMs?: number; maxRetryDelayInMs?: number };
}

/** A 429 or 5xx answer that the SDK's retry policy retries. */
export interface RetriedAnswer {
  method: string;
  /** The request path (no query, no host). */
  path: string;
  status: number;
  /** ARM's error code, when the body carries one. */
  code?: string;
  /** Seconds the service asked to wait (Retry-After), when it did. */
  retryAfterSeconds?: number;
}

/** What publishing needs to know about the Batch account itself (BatchAccount_Get). */
export interface BatchAccountInfo {
  /** Batch data-plane host, e.g. `mybatch.westeurope.batch.azure.com` (no scheme). */
  accountEndpoint?: string;
  /** Auto-storage account resource id. */
  storageAccountId?: string;
  /** `StorageKeys` or `BatchAccountManagedIdentity`. */
  autoStorageAuthenticationMode?: string;
  /** Resource ids of the account's user-assigned identities (the auto-storage identity among them). */
  identityIds: string[];
  /** The account's identity principal ids (system-assigned, or each user-assigned one). */
  principalIds: string[];
}

export interface ApplicationInfo {
  /** Resource id, `/subscriptions/.../batchAccounts/<account>/applications/<name>`. */
  id: string;
  name: string;
  displayName?: string;
  allowUpdates?: boolean;
  defaultVersion?: string;
}

/** `Pending` until activated; `Active` once usable by pools and tasks. */
export type PackageState = "Pending" | "Active";

export interface PackageVersionInfo {
  id: string;
  name: string;
  state: PackageState;
  format?: string;
  /**
   * Where the zip goes. Returned by PUT; GET may omit it (newer API versions return it only from
   * PUT: Azure/azure-rest-api-specs pull 43544), so never rely on one from an earlier run.
   */
  storageUrl?: string;
  storageUrlExpiry?: Date;
  lastActivationTime?: Date;
}

/** A pool's reference to an application package (`version` absent: the default version). */
export interface PoolPackageReference {
  pool: string;
  id: string;
  version?: string;
}

/** The calls publishing needs, bound to one Batch account. */
export interface BatchApplications {
  getApplication(app: string): Promise<ApplicationInfo | undefined>;
  /** PUT with `allowUpdates: false`: existing versions stay immutable, only new ones are added. */
  createApplication(app: string, displayName: string): Promise<ApplicationInfo>;
  /** PATCH: only the given properties change. */
  updateApplication(
    app: string,
    props: { displayName?: string; defaultVersion?: string; allowUpdates?: boolean },
  ): Promise<ApplicationInfo>;
  getVersion(app: string, version: string): Promise<PackageVersionInfo | undefined>;
  /** PUT without a body: the answer carries a fresh `storageUrl` for the zip. */
  createVersion(app: string, version: string): Promise<PackageVersionInfo>;
  /** POST `.../activate` with `{"format":"zip"}`. */
  activateVersion(app: string, version: string): Promise<PackageVersionInfo>;
  listVersions(app: string): Promise<PackageVersionInfo[]>;
  deleteVersion(app: string, version: string): Promise<void>;
  /** Every pool's package references in the account (all applications). */
  listPoolPackageReferences(): Promise<PoolPackageReference[]>;
  /** The application's resource id, as a pool's package reference expects it. */
  applicationResourceId(app: string): string;
  /** The Batch account (its data-plane endpoint, auto-storage and identity). */
  getAccount(): Promise<BatchAccountInfo>;
}

/** True for an ARM error with this HTTP status (RestError from @azure/core-rest-pipeline). */
export function isStatus(err: unknown, status: number): boolean {
  return (err as { statusCode?: number } | null)?.statusCode === status;
}

/** ARM's error code of a failed call (RestError.code), if any. */
export function armErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && code !== "" ? code : undefined;
}

/**
 * A failed ARM call in one line: `HTTP 409 AutoStorageNoPermission: <message>`. A 5xx with an
 * empty body has no message: say so rather than print nothing.
 */
export function describeArmError(err: unknown): string {
  const e = err as { statusCode?: number; code?: string; message?: string } | null;
  const status = typeof e?.statusCode === "number" ? `HTTP ${e.statusCode}` : undefined;
  const code = armErrorCode(err);
  const raw = (e?.message ?? String(err)).split("\n")[0].trim();
  // The SDK sets message to the code, or to a generic text, when the body had none.
  const message = raw === "" || raw === code ? "(the service sent no message)" : raw;
  return [status, code].filter(Boolean).join(" ") + (status || code ? ": " : "") + message;
}

/**
 * A pipeline policy placed after the retry policy, so it sees every attempt: it reports the
 * answers the retry policy will retry (429, 5xx) before they are retried.
 */
function retryObserver(onRetry: (r: RetriedAnswer) => void, maxRetries: number): PipelinePolicy {
  // Attempts per request: the retry policy sends the same request object again.
  const attempts = new WeakMap<object, number>();
  return {
    name: "hpc-batch-retry-observer",
    async sendRequest(request, next) {
      const attempt = (attempts.get(request) ?? 0) + 1;
      attempts.set(request, attempt);
      const response = await next(request);
      const status = response.status;
      // The last attempt's answer is not retried: the caller reports it as the failure.
      if (
        attempt <= maxRetries &&
        (status === 429 || (status >= 500 && status !== 501 && status !== 505))
      ) {
        let code: string | undefined;
        try {
          code = (JSON.parse(response.bodyAsText ?? "") as { error?: { code?: string } }).error
            ?.code;
        } catch {
          code = undefined;
        }
        const after = Number(response.headers.get("retry-after"));
        onRetry({
          method: request.method,
          path: new URL(request.url).pathname,
          status,
          code,
          retryAfterSeconds: Number.isFinite(after) && after > 0 ? after : undefined,
        });
      }
      return response;
    },
  };
}

/**
 * Loaded on first use, not with this module: a command that never reaches the SDK (help, a
 * plan) does not pay for loading it. In the CLI, from its one-file bundle (./azureSdk).
 */
function sdk(): ArmSdk["armBatch"] {
  return armSdk().armBatch;
}

/**
 * The @azure/arm-batch client every management call goes through: api-version 2025-06-01, the
 * endpoint's scope, the retry settings, and the retry observer when `onRetry` is given.
 */
export function batchManagementClient(target: BatchAccountTarget): BatchManagementClient {
  const retry = { maxRetries: 4, retryDelayInMs: 500, maxRetryDelayInMs: 8000, ...target.retry };
  const client = new (sdk().BatchManagementClient)(target.credential, target.subscriptionId, {
    endpoint: target.endpoint,
    apiVersion: BATCH_API_VERSION,
    credentialScopes: [armScope(target.endpoint)],
    retryOptions: retry,
    userAgentOptions: { userAgentPrefix: "hpc-batch" },
  });
  dropFormDataPolicy(client.pipeline);
  if (target.onRetry) {
    client.pipeline.addPolicy(retryObserver(target.onRetry, retry.maxRetries), {
      afterPhase: "Retry",
    });
  }
  return client;
}

export function batchApplications(target: BatchAccountTarget): BatchApplications {
  const client = batchManagementClient(target);
  const rg = target.resourceGroup;
  const account = target.account;
  const appId = (app: string) =>
    batchApplicationResourceId(target.subscriptionId, rg, account, app);

  const toApp = (a: {
    id?: string;
    name?: string;
    displayName?: string;
    allowUpdates?: boolean;
    defaultVersion?: string;
  }): ApplicationInfo => ({
    id: a.id ?? "",
    name: a.name ?? "",
    displayName: a.displayName,
    allowUpdates: a.allowUpdates,
    defaultVersion: a.defaultVersion,
  });
  const toVersion = (p: {
    id?: string;
    name?: string;
    state?: string;
    format?: string;
    storageUrl?: string;
    storageUrlExpiry?: Date;
    lastActivationTime?: Date;
  }): PackageVersionInfo => ({
    id: p.id ?? "",
    name: p.name ?? "",
    state: p.state as PackageState,
    format: p.format,
    storageUrl: p.storageUrl,
    storageUrlExpiry: p.storageUrlExpiry,
    lastActivationTime: p.lastActivationTime,
  });

  return {
    async getApplication(app) {
      try {
        return toApp(await client.applicationOperations.get(rg, account, app));
      } catch (err) {
        if (isStatus(err, 404)) return undefined;
        throw err;
      }
    },
    async createApplication(app, displayName) {
      const res = await client.applicationOperations.create(rg, account, app, {
        parameters: { allowUpdates: false, displayName },
      });
      return toApp(res);
    },
    async updateApplication(app, props) {
      return toApp(await client.applicationOperations.update(rg, account, app, props));
    },
    async getVersion(app, version) {
      try {
        return toVersion(await client.applicationPackageOperations.get(rg, account, app, version));
      } catch (err) {
        if (isStatus(err, 404)) return undefined;
        throw err;
      }
    },
    async createVersion(app, version) {
      return toVersion(await client.applicationPackageOperations.create(rg, account, app, version));
    },
    async activateVersion(app, version) {
      return toVersion(
        await client.applicationPackageOperations.activate(rg, account, app, version, {
          format: "zip",
        }),
      );
    },
    async listVersions(app) {
      const out: PackageVersionInfo[] = [];
      for await (const p of client.applicationPackageOperations.list(rg, account, app)) {
        out.push(toVersion(p));
      }
      return out;
    },
    async deleteVersion(app, version) {
      await client.applicationPackageOperations.delete(rg, account, app, version);
    },
    async listPoolPackageReferences() {
      const out: PoolPackageReference[] = [];
      for await (const pool of client.poolOperations.listByBatchAccount(rg, account)) {
        for (const ref of pool.applicationPackages ?? []) {
          out.push({ pool: pool.name ?? "", id: ref.id, version: ref.version });
        }
      }
      return out;
    },
    applicationResourceId: appId,
    async getAccount() {
      const a = await client.batchAccountOperations.get(rg, account);
      const users = a.identity?.userAssignedIdentities ?? {};
      return {
        accountEndpoint: a.accountEndpoint,
        storageAccountId: a.autoStorage?.storageAccountId,
        autoStorageAuthenticationMode: a.autoStorage?.authenticationMode,
        identityIds: Object.keys(users),
        principalIds: [
          ...(a.identity?.principalId ? [a.identity.principalId] : []),
          ...Object.values(users).flatMap((u) => (u.principalId ? [u.principalId] : [])),
        ],
      };
    },
  };
}
