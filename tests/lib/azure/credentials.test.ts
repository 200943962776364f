import { DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import {
  STORAGE_SCOPE,
  armScope,
  ensureToken,
  jwtExpiry,
  resolveCredentials,
  staticTokenCredential,
} from "../../../lib/azure/credentials";

const jwt = (claims: object) =>
  ["{}", JSON.stringify(claims), "sig"].map((p) => Buffer.from(p).toString("base64url")).join(".");

describe("scopes", () => {
  test.each([
    ["https://management.azure.com", "https://management.azure.com/.default"],
    ["https://management.azure.com/", "https://management.azure.com/.default"],
    ["https://management.usgovcloudapi.net", "https://management.usgovcloudapi.net/.default"],
    ["https://management.chinacloudapi.cn", "https://management.chinacloudapi.cn/.default"],
    ["https://127.0.0.1:8443/arm", "https://127.0.0.1:8443/.default"],
  ])("armScope(%s) is %s", (endpoint, scope) => {
    expect(armScope(endpoint)).toBe(scope);
  });

  test("storage uses one scope in every cloud", () => {
    expect(STORAGE_SCOPE).toBe("https://storage.azure.com/.default");
  });
});

describe("staticTokenCredential", () => {
  test("answers the token with the JWT's expiry", async () => {
    const token = jwt({ exp: 2_000_000_000 });
    expect(jwtExpiry(token)).toBe(2_000_000_000_000);
    expect(await staticTokenCredential(token).getToken("any")).toEqual({
      token,
      expiresOnTimestamp: 2_000_000_000_000,
      tokenType: "Bearer",
    });
  });

  test("an opaque token is assumed to last an hour", async () => {
    const cred = staticTokenCredential("opaque-token", () => 1_000);
    expect(await cred.getToken("any")).toEqual({
      token: "opaque-token",
      expiresOnTimestamp: 1_000 + 3_600_000,
      tokenType: "Bearer",
    });
  });
});

describe("resolveCredentials", () => {
  const token = async (c: TokenCredential, scope: string) => (await c.getToken(scope))?.token;

  test("AZURE_ACCESS_TOKEN serves ARM and storage", async () => {
    const c = resolveCredentials({ AZURE_ACCESS_TOKEN: " arm-token\n" });
    expect(c.source).toBe("AZURE_ACCESS_TOKEN");
    expect(await token(c.arm, "https://management.azure.com/.default")).toBe("arm-token");
    expect(await token(c.storage, STORAGE_SCOPE)).toBe("arm-token");
  });

  test("AZURE_STORAGE_ACCESS_TOKEN serves storage when the ARM token's audience is ARM only", async () => {
    const c = resolveCredentials({ AZURE_ACCESS_TOKEN: "arm", AZURE_STORAGE_ACCESS_TOKEN: "blob" });
    expect(await token(c.arm, "x")).toBe("arm");
    expect(await token(c.storage, STORAGE_SCOPE)).toBe("blob");
  });

  test("otherwise the standard chain (DefaultAzureCredential) for both", () => {
    const c = resolveCredentials({});
    expect(c.source).toBe("DefaultAzureCredential");
    expect(c.arm).toBeInstanceOf(DefaultAzureCredential);
    expect(c.storage).toBe(c.arm);
  });
});

describe("ensureToken", () => {
  const ARM = "https://management.azure.com/.default";
  const failing = (err: unknown): TokenCredential => ({
    getToken: async () => {
      throw err;
    },
  });
  const named = (name: string, message: string) => Object.assign(new Error(message), { name });
  const unavailable = (m: string) => named("CredentialUnavailableError", m);
  const SIGN_IN =
    "run az login, or set AZURE_ACCESS_TOKEN to a token for it (a pipeline: AZURE_CLIENT_ID and AZURE_TENANT_ID with AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE)";

  test("passes when the credential answers", async () => {
    await expect(ensureToken(staticTokenCredential("t"), "s")).resolves.toBeUndefined();
  });

  test.each<[string, unknown, string]>([
    [
      "no credential of the chain available: one line with the fix, not the chain",
      Object.assign(
        named(
          "AggregateAuthenticationError",
          "ChainedTokenCredential authentication failed.\nCredentialUnavailableError: EnvironmentCredential is unavailable.\nCredentialUnavailableError: Azure CLI could not be found.",
        ),
        {
          errors: [
            unavailable("EnvironmentCredential is unavailable."),
            unavailable("ManagedIdentityCredential: Network unreachable."),
            unavailable("Azure CLI could not be found."),
          ],
        },
      ),
      `no Azure credential for ${ARM}: ${SIGN_IN}`,
    ],
    [
      "one unavailable credential",
      unavailable("not signed in"),
      `no Azure credential for ${ARM}: ${SIGN_IN}`,
    ],
    [
      "a sign-in that fails: its first line",
      Object.assign(named("AggregateAuthenticationError", "chain failed"), {
        errors: [
          unavailable("EnvironmentCredential is unavailable."),
          named("AuthenticationError", "AADSTS700082: The refresh token has expired.\nTrace ID: 1"),
        ],
      }),
      `could not get a token for ${ARM}: AADSTS700082: The refresh token has expired.`,
    ],
    [
      "the sign-in endpoint unreachable: the endpoint and the likely cause",
      Object.assign(new Error("getaddrinfo ENOTFOUND login.microsoftonline.com"), {
        code: "ENOTFOUND",
      }),
      `could not get a token for ${ARM}: cannot reach https://login.microsoftonline.com (ENOTFOUND): the host name does not resolve: check the endpoint for a typo, and the DNS or proxy settings (HTTPS_PROXY)`,
    ],
  ])("%s", async (_what, err, message) => {
    const caught = await ensureToken(failing(err), ARM).catch((e: unknown) => e);
    expect((caught as Error).message).toBe(message);
  });

  test("a credential that answers no token", async () => {
    const none: TokenCredential = { getToken: async () => null };
    await expect(ensureToken(none, ARM)).rejects.toThrow(
      `no Azure credential for ${ARM}: ${SIGN_IN}`,
    );
  });
});
