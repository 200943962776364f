import {
  findSecrets,
  hasSecrets,
  isCredentialName,
  redactSecrets,
  scanValue,
  type SecretFinding,
} from "../../../lib/core/secretScan";

// Made-up credentials with the real shapes (none of them was ever valid anywhere).
/** 64 bytes in base64: the shape of a storage or Batch account key (88 characters, "=="). */
const KEY = Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37 + 11) % 256)).toString(
  "base64",
);
const CONNECTION = `DefaultEndpointsProtocol=https;AccountName=sthpc;AccountKey=${KEY};EndpointSuffix=core.windows.net`;
const SAS_QUERY =
  "sv=2022-11-02&se=2030-01-01T00%3A00%3A00Z&sr=b&sp=rw&sig=c2lnbmF0dXJlLW5vdC1yZWFs%3D";
const BLOB = "https://sthpc.blob.core.windows.net/app-ffmpeg/ffmpeg-1.2.0.zip";
const SERVICE_BUS =
  "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=abc123def456";
const JWT = "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9.c2lnbmF0dXJl";

const at = (text: string, part: string) => text.indexOf(part);

test("the made-up key has the shape of an account key", () => {
  expect(KEY).toHaveLength(88);
  expect(KEY.endsWith("==")).toBe(true);
});

test.each<[string, string, SecretFinding[]]>([
  ["an account key alone", KEY, [{ kind: "account key", index: 0, length: 88 }]],
  [
    "a storage connection string: the key, found twice",
    CONNECTION,
    [
      { kind: "account key", index: at(CONNECTION, KEY), length: 88 },
      { kind: "connection string key", index: at(CONNECTION, KEY), length: 88 },
    ],
  ],
  [
    "a blob URL with a SAS: the query is the secret, the path is not",
    `${BLOB}?${SAS_QUERY}`,
    [{ kind: "shared access signature", index: BLOB.length + 1, length: SAS_QUERY.length }],
  ],
  [
    "a bare SAS token",
    SAS_QUERY,
    [{ kind: "shared access signature", index: 0, length: SAS_QUERY.length }],
  ],
  [
    "a SAS whose signature was cut off (se and sp remain)",
    `${BLOB}?sp=r&se=2030-01-01`,
    [{ kind: "shared access signature", index: BLOB.length + 1, length: 18 }],
  ],
  [
    "a SAS inside JSON",
    JSON.stringify({ storageUrl: `${BLOB}?${SAS_QUERY}` }),
    [
      {
        kind: "shared access signature",
        index: '{"storageUrl":"'.length + BLOB.length + 1,
        length: SAS_QUERY.length,
      },
    ],
  ],
  [
    "a Service Bus connection string",
    SERVICE_BUS,
    [{ kind: "connection string key", index: at(SERVICE_BUS, "abc123"), length: 12 }],
  ],
  [
    "SharedAccessSignature= in a connection string: the key and the SAS",
    `BlobEndpoint=${BLOB};SharedAccessSignature=${SAS_QUERY}`,
    [
      // The bare token from `SharedAccessSignature` on, and the value after its `=`.
      {
        kind: "shared access signature",
        index: `BlobEndpoint=${BLOB};`.length,
        length: `SharedAccessSignature=${SAS_QUERY}`.length,
      },
      {
        kind: "connection string key",
        index: `BlobEndpoint=${BLOB};SharedAccessSignature=`.length,
        length: SAS_QUERY.length,
      },
    ],
  ],
  ["a JWT", `token ${JWT}`, [{ kind: "bearer token", index: 6, length: JWT.length }]],
  [
    "a JWT after Bearer is reported once",
    `Authorization: Bearer ${JWT}`,
    [{ kind: "bearer token", index: 22, length: JWT.length }],
  ],
  [
    "an opaque bearer token",
    "authorization: Bearer 0123456789abcdef0123",
    [{ kind: "bearer token", index: 22, length: 20 }],
  ],
  [
    "a PEM private key",
    "x\n-----BEGIN RSA PRIVATE KEY-----\nMIIE",
    [{ kind: "private key", index: 2, length: 31 }],
  ],
])("%s", (_what, text, expected) => {
  expect(findSecrets(text)).toEqual(expected);
  expect(hasSecrets(text)).toBe(true);
});

test.each<[string, string]>([
  ["a sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
  ["a sha512 in hex", "ab".repeat(64)],
  ["88 base64 characters without the padding", KEY.slice(0, 86) + "Ab"],
  [
    "an account-key-sized run inside a longer base64 run (128 bytes)",
    Buffer.alloc(128, 7).toString("base64"),
  ],
  ["a blob URL without a SAS", BLOB],
  [
    "an ARM URL with an api-version",
    "https://management.azure.com/subscriptions/0000/resourceGroups/rg?api-version=2024-07-01",
  ],
  ["query names that only start like SAS fields", `${BLOB}?design=flat&signal=2&spec=1`],
  ["a SAS field alone", `${BLOB}?sp=r`],
  [
    "a storage account id",
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sthpc",
  ],
  [
    "the dev stack's autoscale formula",
    "$samples = $PendingTasks.GetSamplePercent(TimeInterval_Minute * 5);\n$TargetLowPriorityNodes = min(4, $tasks);",
  ],
  ["a node agent", "batch.node.ubuntu 24.04"],
  ["the word Bearer alone", "Authorization: Bearer"],
  ["a connection string without a key", "DefaultEndpointsProtocol=https;AccountName=sthpc"],
])("nothing in %s", (_what, text) => {
  expect(findSecrets(text)).toEqual([]);
  expect(hasSecrets(text)).toBe(false);
});

test.each<[string, string, string]>([
  [
    "the key of a connection string",
    CONNECTION,
    "DefaultEndpointsProtocol=https;AccountName=sthpc;AccountKey=[redacted account key];EndpointSuffix=core.windows.net",
  ],
  [
    "the query of a SAS URL",
    `upload to ${BLOB}?${SAS_QUERY} failed`,
    `upload to ${BLOB}?[redacted shared access signature] failed`,
  ],
  ["a JWT after Bearer", `Bearer ${JWT}.`, "Bearer [redacted bearer token]."],
  ["two secrets", `a=${KEY} b=${JWT}`, "a=[redacted account key] b=[redacted bearer token]"],
  ["nothing when there is nothing", "hpc-batch-dev-pool", "hpc-batch-dev-pool"],
])("redactSecrets: %s", (_what, text, expected) => {
  expect(redactSecrets(text)).toBe(expected);
  expect(findSecrets(redactSecrets(text))).toEqual([]);
});

test("scanValue: the path of every secret in a nested value, keys included", () => {
  expect(
    scanValue({
      name: "sthpc",
      endpoints: [BLOB, `${BLOB}?${SAS_QUERY}`],
      nested: { token: JWT, ok: 3, none: null },
      [`AccountKey=${KEY}`]: true,
    }),
  ).toEqual([
    { path: "$.endpoints[1]", kind: "shared access signature" },
    { path: "$.nested.token", kind: "bearer token" },
    { path: "$ (key)", kind: "account key" },
    { path: "$ (key)", kind: "connection string key" },
  ]);
  expect(scanValue(["a", 1, true, undefined], "outputs")).toEqual([]);
});

test.each<[string, boolean]>([
  ["primaryAccessKey", true],
  ["storageAccountKey", true],
  ["key", true],
  ["keys", true],
  ["clientSecret", true],
  ["connectionString", true],
  ["primaryConnectionString", true],
  ["storageUrl", true],
  ["sasToken", true],
  ["accessToken", true],
  ["password", true],
  ["allowSharedKeyAccess", false],
  ["roleAssignmentName", false],
  ["identityClientId", false],
  ["storageBlobEndpoint", false],
  ["keyVaultId", false],
  ["applicationPackageSha256", false],
])("isCredentialName(%s) is %s", (name, expected) => {
  expect(isCredentialName(name)).toBe(expected);
});
