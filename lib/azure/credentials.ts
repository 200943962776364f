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
import { describeNetworkError } from "../core/networkError";
import { identitySdk } from "./azureSdk";

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
  const { DefaultAzureCredential } = identitySdk();
  const chain = new DefaultAzureCredential();
  return {
    arm: chain,
    storage: storageToken ? staticTokenCredential(storageToken) : chain,
    source: "DefaultAzureCredential",
  };
}

/** The fix for a missing sign-in, one line. */
export const SIGN_IN_FIX =
  "run az login, or set AZURE_ACCESS_TOKEN to a token for it (a pipeline: AZURE_CLIENT_ID and AZURE_TENANT_ID with AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE)";

/** Microsoft Entra's sign-in endpoint, where credentials get their tokens. */
export function authorityHost(env: NodeJS.ProcessEnv = process.env): string {
  return env.AZURE_AUTHORITY_HOST?.trim() || "https://login.microsoftonline.com";
}

/**
 * One line for a failed token request. The credential chain reports each credential it tried
 * (7 lines from DefaultAzureCredential); when none of them was even available the cause is a
 * missing sign-in, so the line says how to sign in. A network failure names the sign-in endpoint;
 * any other failure (an expired sign-in, a refused client secret) shows its first line.
 */
export function describeTokenError(
  err: unknown,
  scope: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const e = err as { name?: string; errors?: unknown[]; message?: unknown };
  const causes = Array.isArray(e?.errors) ? e.errors : [err];
  const unavailable = (c: unknown) =>
    (c as { name?: string })?.name === "CredentialUnavailableError";
  const real = causes.filter((c) => !unavailable(c));
  if (real.length === 0) return `no Azure credential for ${scope}: ${SIGN_IN_FIX}`;
  const network = real.map((c) => describeNetworkError(c, authorityHost(env))).find(Boolean);
  if (network) return `could not get a token for ${scope}: ${network}`;
  const first = String((real[0] as Error)?.message ?? real[0]).split("\n")[0];
  return `could not get a token for ${scope}: ${first}`;
}

/**
 * Fetches a token once, before any request, so a missing login fails with one clear line
 * instead of a chain of SDK errors in the middle of a publish.
 */
export async function ensureToken(credential: TokenCredential, scope: string): Promise<void> {
  let token: AccessToken | null;
  try {
    token = await credential.getToken(scope);
  } catch (err) {
    throw new Error(describeTokenError(err, scope));
  }
  if (!token) throw new Error(`no Azure credential for ${scope}: ${SIGN_IN_FIX}`);
}
