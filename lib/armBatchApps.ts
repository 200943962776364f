/**
 * Resource Manager calls for Batch applications and application packages, through
 * @azure/arm-batch pinned to api-version 2024-07-01
 * (Azure/azure-rest-api-specs specification/batch/resource-manager/Microsoft.Batch/stable/2024-07-01/
 * BatchManagement.json: Application_Create/Get/Update, ApplicationPackage_Create/Get/List/Delete/
 * Activate, Pool_ListByBatchAccount).
 *
 * The client is built per call site, never at module load: the dynamic provider serializes the
 * functions that use this module, and a client holds an HTTP pipeline.
 */
import { BatchManagementClient } from "@azure/arm-batch";
import type { TokenCredential } from "@azure/identity";
import { armScope } from "./credentials";

/** The Batch management API version every call uses. */
export const BATCH_API_VERSION = "2024-07-01";

/** Where the calls go and as whom. */
export interface BatchAccountTarget {
  /** Resource Manager endpoint, e.g. `https://management.azure.com`. */
  endpoint: string;
  credential: TokenCredential;
  subscriptionId: string;
  resourceGroup: string;
  account: string;
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
    props: { displayName?: string; defaultVersion?: string },
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
}

/** True for an ARM error with this HTTP status (RestError from @azure/core-rest-pipeline). */
export function isStatus(err: unknown, status: number): boolean {
  return (err as { statusCode?: number } | null)?.statusCode === status;
}

export function batchApplications(target: BatchAccountTarget): BatchApplications {
  const client = new BatchManagementClient(target.credential, target.subscriptionId, {
    endpoint: target.endpoint,
    apiVersion: BATCH_API_VERSION,
    credentialScopes: [armScope(target.endpoint)],
    retryOptions: { maxRetries: 4, retryDelayInMs: 500, maxRetryDelayInMs: 8000 },
    userAgentOptions: { userAgentPrefix: "hpc-batch" },
  });
  const rg = target.resourceGroup;
  const account = target.account;
  const appId = (app: string) =>
    `/subscriptions/${target.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Batch/batchAccounts/${account}/applications/${app}`;

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
  };
}
