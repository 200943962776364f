/**
 * Credentials for Resource Manager and Blob storage. `AZURE_ACCESS_TOKEN`, when set, is used as a
 * ready bearer token (pipelines that already hold one, and tests); otherwise the standard Azure
 * chain (`DefaultAzureCredential`: environment, workload identity, managed identity, Azure CLI...).
 *
 * A bearer token has one audience, so a storage upload without a SAS (managed-identity
 * auto-storage) takes `AZURE_STORAGE_ACCESS_TOKEN` when set, then `AZURE_ACCESS_TOKEN`.
 *
 * Nothing here is created at module load: the dynamic provider serializes the functions that call
 * this module, and a credential holds sockets and caches that must not be captured.
 */
import type { AccessToken, TokenCredential } from "@azure/identity";

/** The public cloud's Resource Manager endpoint. */
export const DEFAULT_ARM_ENDPOINT = "https://management.azure.com";

/**
 * The Entra scope for Blob storage. The same resource id serves every cloud
 * (https://learn.microsoft.com/azure/storage/blobs/authorize-access-azure-active-directory).
 */
export const STORAGE_SCOPE = "https://storage.azure.com/.default";

/**
 * The Entra scope for a Resource Manager endpoint: `<origin>/.default`, which is right for the
 * public cloud (`https://management.azure.com/.default`) and the sovereign clouds
 * (`https://management.usgovcloudapi.net/.default`, `https://management.chinacloudapi.cn/.default`).
 * It is also what @azure/arm-batch derives when given no scope.
 */
export function armScope(endpoint: string): string {
  return `${new URL(endpoint).origin}/.default`;
}

/** Where a set of credentials came from, for messages (never the token itself). */
export type CredentialSource = "AZURE_ACCESS_TOKEN" | "DefaultAzureCredential";

export interface Credentials {
  /** For Resource Manager calls. */
  arm: TokenCredential;
  /** For blob calls when the storage URL carries no SAS. */
  storage: TokenCredential;
  source: CredentialSource;
}

/**
 * A credential that always answers with `token`. Its expiry is read from the JWT's `exp` claim
 * when the token is a JWT, else it is assumed to last an hour (ARM tokens last 60-90 minutes).
 */
export function staticTokenCredential(
  token: string,
  now: () => number = Date.now,
): TokenCredential {
  const expiresOnTimestamp = jwtExpiry(token) ?? now() + 60 * 60 * 1000;
  return {
    async getToken(): Promise<AccessToken> {
      return { token, expiresOnTimestamp, tokenType: "Bearer" };
    },
  };
}

/** The `exp` claim of a JWT in milliseconds, or undefined when the token is not a JWT. */
export function jwtExpiry(token: string): number | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8")) as {
      exp?: unknown;
    };
    return typeof claims.exp === "number" ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Who a token speaks for, for messages that name the identity lacking a role:
 * `object id <oid> (<upn or app id>)`. Undefined when the token is not a JWT or has no oid.
 */
export function tokenIdentity(token: string): string | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  try {
    const c = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8")) as Record<
      string,
      unknown
    >;
    if (typeof c.oid !== "string") return undefined;
    const who = [c.upn, c.unique_name, c.appid, c.azp].find((v) => typeof v === "string");
    return `object id ${c.oid}${who ? ` (${String(who)})` : ""}`;
  } catch {
    return undefined;
  }
}

/** The identity behind `credential` for `scope`, or a phrase saying it is not known. */
export async function describeCaller(credential: TokenCredential, scope: string): Promise<string> {
  try {
    const t = await credential.getToken(scope);
    return (t && tokenIdentity(t.token)) ?? "the signed-in identity";
  } catch {
    return "the signed-in identity";
  }
}

/**
 * The credential for the Batch data plane, or why there is none. A bearer token has one
 * audience, so a ready token for Batch comes from `AZURE_BATCH_ACCESS_TOKEN` (scope
 * https://batch.core.windows.net/.default); without one, the standard chain (which answers any
 * scope) is used. When Resource Manager gets a ready token (`AZURE_ACCESS_TOKEN`), Batch needs its
 * own: an ARM token would be refused.
 */
export function batchDataCredential(
  env: NodeJS.ProcessEnv,
  creds: Credentials,
): TokenCredential | { unavailable: string } {
  const token = env.AZURE_BATCH_ACCESS_TOKEN?.trim();
  if (token) return staticTokenCredential(token);
  if (creds.source === "AZURE_ACCESS_TOKEN") {
    return {
      unavailable:
        "AZURE_ACCESS_TOKEN is set but AZURE_BATCH_ACCESS_TOKEN is not (a token has one audience)",
    };
  }
  return creds.arm;
}

/** Resolves the credentials from the environment (see the module comment for the rules). */
export function resolveCredentials(env: NodeJS.ProcessEnv = process.env): Credentials {
  const armToken = env.AZURE_ACCESS_TOKEN?.trim();
  const storageToken = env.AZURE_STORAGE_ACCESS_TOKEN?.trim() || armToken;
  if (armToken) {
    return {
      arm: staticTokenCredential(armToken),
      storage: staticTokenCredential(storageToken ?? armToken),
      source: "AZURE_ACCESS_TOKEN",
    };
  }
  // Loaded on demand: @azure/identity pulls in MSAL, which the token path never needs.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { DefaultAzureCredential } = require("@azure/identity") as typeof import("@azure/identity");
  const chain = new DefaultAzureCredential();
  return {
    arm: chain,
    storage: storageToken ? staticTokenCredential(storageToken) : chain,
    source: "DefaultAzureCredential",
  };
}

/**
 * Fetches a token once, before any request, so a missing login fails with one clear message
 * instead of a chain of SDK errors in the middle of a publish.
 */
export async function ensureToken(credential: TokenCredential, scope: string): Promise<void> {
  try {
    const token = await credential.getToken(scope);
    if (!token) throw new Error("the credential returned no token");
  } catch (err) {
    const first = String((err as Error).message ?? err).split("\n")[0];
    throw new Error(
      `no Azure credential for ${scope}: set AZURE_ACCESS_TOKEN, or sign in for ` +
        "DefaultAzureCredential (az login; AZURE_CLIENT_ID + AZURE_TENANT_ID with a secret, " +
        `certificate or federated token; or a managed identity): ${first}`,
    );
  }
}
