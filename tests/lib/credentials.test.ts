import { DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import {
  STORAGE_SCOPE,
  armScope,
  ensureToken,
  jwtExpiry,
  resolveCredentials,
  staticTokenCredential,
} from "../../lib/credentials";

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
  test("passes when the credential answers", async () => {
    await expect(ensureToken(staticTokenCredential("t"), "s")).resolves.toBeUndefined();
  });

  test("turns a failed sign-in into one message naming the ways to sign in", async () => {
    const failing: TokenCredential = {
      getToken: async () => {
        throw new Error(
          "ChainedTokenCredential authentication failed.\nEnvironmentCredential is unavailable.",
        );
      },
    };
    await expect(ensureToken(failing, "https://management.azure.com/.default")).rejects.toThrow(
      "no Azure credential for https://management.azure.com/.default: set AZURE_ACCESS_TOKEN, or sign in " +
        "for DefaultAzureCredential (az login; AZURE_CLIENT_ID + AZURE_TENANT_ID with a secret, " +
        "certificate or federated token; or a managed identity): ChainedTokenCredential authentication failed.",
    );
  });
});
