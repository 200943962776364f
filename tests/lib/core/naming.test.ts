import { InputError } from "../../../lib/core/errors";
import {
  batchAccountResourceId,
  batchApplicationResourceId,
  defaultAccountName,
  defaultPoolName,
  defaultResourceGroupName,
  roleAssignmentName,
  uuidV5,
  isHttpsEndpoint,
  validateApplicationId,
  validateApplicationVersion,
  validateArmEndpoint,
  validateBatchAccountName,
  validatePoolName,
  validateBatchEndpoint,
  validateResourceGroupName,
  validateStorageAccountName,
} from "../../../lib/core/naming";

const ACCOUNT = "must be 3 to 24 lowercase letters and digits";
const RG = "must be 1 to 90 letters, digits, '-', '_', '.', '(' or ')', and must not end with '.'";
const ID = "must be 1 to 64 letters, digits, '-' or '_'";
const VERSION =
  "must be 1 to 64 letters, digits, '-', '_' or '.', not starting with '.' ('+' is not allowed, so semver build metadata cannot be used as is)";

type Validator = (field: string, value: unknown) => string;

describe.each<[string, Validator, string, unknown[], [unknown, string][]]>([
  [
    "resource group",
    validateResourceGroupName,
    RG,
    ["rg", "rg-hpc_batch.dev(1)", "r".repeat(90), "rg-ümlaut"],
    [
      ["", RG],
      ["r".repeat(91), RG],
      ["rg.", RG],
      ["rg/dev", RG],
      ["rg dev", RG],
      [42, RG],
    ],
  ],
  [
    "storage account",
    validateStorageAccountName,
    ACCOUNT,
    ["abc", "sthpcbatchdev926e27fc7c", "a".repeat(24)],
    [
      ["ab", ACCOUNT],
      ["a".repeat(25), ACCOUNT],
      ["My_Account", ACCOUNT],
      ["Storage1", ACCOUNT],
      ["st-dev", ACCOUNT],
      [undefined, ACCOUNT],
    ],
  ],
  [
    "batch account",
    validateBatchAccountName,
    ACCOUNT,
    ["bah", "ba0123456789"],
    [
      ["ba", ACCOUNT],
      ["Batch", ACCOUNT],
    ],
  ],
  [
    "pool",
    validatePoolName,
    ID,
    ["p", "hpc-batch-dev-pool", "Pool_1", "p".repeat(64)],
    [
      ["", ID],
      ["p".repeat(65), ID],
      ["pool.1", ID],
      ["pool 1", ID],
    ],
  ],
  [
    "application id",
    validateApplicationId,
    ID,
    ["ffmpeg", "FFmpeg_6-1", "a".repeat(64)],
    [
      ["", ID],
      ["ffmpeg.6", ID],
      ["a".repeat(65), ID],
      [7, ID],
    ],
  ],
  [
    "application version",
    validateApplicationVersion,
    VERSION,
    ["1.2.0", "1.2.0-rc.1", "2024_06_01", "v".repeat(64), "_1.0", "-rc"],
    [
      ["1.2.0+build.5", VERSION],
      [".1.0", VERSION],
      ["", VERSION],
      ["1 2", VERSION],
      ["v".repeat(65), VERSION],
    ],
  ],
])("%s names", (_kind, validate, _rule, valid, invalid) => {
  test.each(valid)("accepts %p and returns it", (value) => {
    expect(validate("f", value)).toBe(value);
  });

  test.each(invalid)("rejects %p", (value, rule) => {
    let caught: unknown;
    try {
      validate("hpc-batch:someKey", value);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InputError);
    const err = caught as InputError;
    expect(err.field).toBe("hpc-batch:someKey");
    expect(err.value).toBe(value);
    expect(err.rule).toBe(rule);
  });
});

test("the message names the key, the value and the rule", () => {
  expect(() => validateBatchAccountName("hpc-batch:batchAccountName", "My_Account")).toThrow(
    'hpc-batch:batchAccountName "My_Account" is invalid: must be 3 to 24 lowercase letters and digits',
  );
  expect(() =>
    validateApplicationVersion("hpc-batch:batchApplicationVersion", "1.0.0+abc"),
  ).toThrow(`hpc-batch:batchApplicationVersion "1.0.0+abc" is invalid: ${VERSION}`);
});

describe("generated names", () => {
  const scope = {
    subscriptionId: "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    resourceGroupName: "rg-hpc-batch-dev",
    project: "hpc-batch",
    stack: "dev",
  };

  // Expected values computed outside this code base (Python hashlib over the same inputs).
  test.each([
    ["storageAccount", "hpc-batch/dev", "sthpcbatchdev926e27fc7c", scope],
    ["batchAccount", "hpc-batch/dev", "bahpcbatchdev21b59f42f4", scope],
    [
      "storageAccount",
      "another subscription",
      "sthpcbatchdevdc3a82afe9",
      { ...scope, subscriptionId: "11111111-2222-3333-4444-555555555555" },
    ],
    [
      "storageAccount",
      "a long project and stack",
      "staverylongpro67b8309978",
      {
        subscriptionId: scope.subscriptionId,
        resourceGroupName: "rg",
        project: "a-very-long-project-name",
        stack: "production",
      },
    ],
  ] as const)("%s for %s is %s", (kind, _label, expected, s) => {
    expect(defaultAccountName(kind, s)).toBe(expected);
    expect(validateStorageAccountName("generated", expected)).toBe(expected);
  });

  test("account names ignore case in their inputs (Azure names do)", () => {
    expect(
      defaultAccountName("storageAccount", {
        ...scope,
        subscriptionId: scope.subscriptionId.toUpperCase(),
        resourceGroupName: "RG-HPC-BATCH-DEV",
      }),
    ).toBe("sthpcbatchdev926e27fc7c");
  });

  test("a different resource group gives a different account name", () => {
    expect(
      defaultAccountName("storageAccount", { ...scope, resourceGroupName: "rg-other" }),
    ).not.toBe("sthpcbatchdev926e27fc7c");
  });

  test.each([
    ["hpc-batch", "dev", "rg-hpc-batch-dev"],
    ["hpc-batch", "prod.eu", "rg-hpc-batch-prod.eu"],
    ["hpc-batch", "trailing.", "rg-hpc-batch-trailing"],
    [
      "hpc-batch",
      "s".repeat(100),
      "rg-hpc-batch-ssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss-c2eb34c4",
    ],
  ])("resource group for %s/%s is %s", (project, stack, expected) => {
    const name = defaultResourceGroupName(project, stack);
    expect(name).toBe(expected);
    expect(validateResourceGroupName("generated", name)).toBe(name);
  });

  test.each([
    ["hpc-batch", "dev", "hpc-batch-dev-pool"],
    ["hpc.batch", "dev", "hpc-batch-dev-pool"],
    [
      "hpc-batch",
      "x".repeat(60),
      "hpc-batch-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-0a273002",
    ],
  ])("pool for %s/%s is %s", (project, stack, expected) => {
    expect(defaultPoolName(project, stack)).toBe(expected);
    expect(expected.length).toBeLessThanOrEqual(64);
  });
});

describe("deterministic GUIDs", () => {
  // RFC 9562 / Python's uuid.uuid5 reference values.
  test.each([
    ["6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org", "886313e1-3b8a-5372-9b90-0c9aee199e5d"],
    [
      "6ba7b811-9dad-11d1-80b4-00c04fd430c8",
      "https://example.com/",
      "dd2c1780-811a-5296-81c5-178a0ef488bc",
    ],
  ])("uuidV5(%s, %s) is %s", (ns, name, expected) => {
    expect(uuidV5(ns, name)).toBe(expected);
  });

  test("uuidV5 rejects a namespace that is not a UUID", () => {
    expect(() => uuidV5("not-a-uuid", "x")).toThrow(
      'namespace "not-a-uuid" is invalid: must be a UUID',
    );
  });

  const scope =
    "/subscriptions/6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/resourceGroups/rg-hpc-batch-dev/providers/Microsoft.Storage/storageAccounts/sthpcbatchdev";
  const principal = "11111111-aaaa-4bbb-8ccc-222222222222";
  const role = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";

  test("a role assignment name is uuid5(hpc-batch namespace, scope|principal|role)", () => {
    expect(roleAssignmentName(scope, principal, role)).toBe("bd683526-013b-51ba-a0df-1abd5244bd21");
    expect(roleAssignmentName(scope.toUpperCase(), principal.toUpperCase(), role)).toBe(
      "bd683526-013b-51ba-a0df-1abd5244bd21",
    );
  });

  test("another principal gets another name", () => {
    expect(roleAssignmentName(scope, "33333333-aaaa-4bbb-8ccc-222222222222", role)).not.toBe(
      "bd683526-013b-51ba-a0df-1abd5244bd21",
    );
  });
});

test.each<[unknown, boolean]>([
  ["https://management.azure.com", true],
  ["https://127.0.0.1:8443/", true],
  ["https://ba1.westeurope.batch.azure.com", true],
  ["http://management.azure.com", false],
  ["https://user:pw@management.azure.com", false],
  ["https://acct.blob.core.windows.net/c/x.zip?sig=abc", false],
  ["https://management.azure.com/#frag", false],
  ["management.azure.com", false],
  ["", false],
  [42, false],
])("isHttpsEndpoint(%p) is %p", (value, expected) => {
  expect(isHttpsEndpoint(value)).toBe(expected);
});

test("Batch account and application resource ids", () => {
  expect(batchAccountResourceId("sub", "rg-hpc", "bahpc01")).toBe(
    "/subscriptions/sub/resourceGroups/rg-hpc/providers/Microsoft.Batch/batchAccounts/bahpc01",
  );
  expect(batchApplicationResourceId("sub", "rg-hpc", "bahpc01", "ffmpeg")).toBe(
    "/subscriptions/sub/resourceGroups/rg-hpc/providers/Microsoft.Batch/batchAccounts/bahpc01/applications/ffmpeg",
  );
});

test.each<[string, string]>([
  ["bahpc01.westeurope.batch.azure.com", "https://bahpc01.westeurope.batch.azure.com"],
  ["bahpc01.westeurope.batch.azure.com/", "https://bahpc01.westeurope.batch.azure.com"],
  ["https://bahpc01.westeurope.batch.azure.com", "https://bahpc01.westeurope.batch.azure.com"],
  ["HTTPS://bahpc01.westeurope.batch.azure.com//", "https://bahpc01.westeurope.batch.azure.com"],
  ["https://127.0.0.1:8443", "https://127.0.0.1:8443"],
])("the Batch endpoint %s is %s", (given, url) => {
  expect(validateBatchEndpoint("--batch-endpoint", given)).toBe(url);
});

test.each([
  "http://bahpc01.westeurope.batch.azure.com",
  "ftp://x",
  "https://user:pw@bahpc01.westeurope.batch.azure.com",
  "https://bahpc01.westeurope.batch.azure.com?sv=1",
  "bahpc01.westeurope.batch.azure.com#x",
  "",
])("the Batch endpoint %j is refused with the rule", (given) => {
  expect(() => validateBatchEndpoint("--batch-endpoint", given)).toThrow(
    new InputError(
      "--batch-endpoint",
      given,
      "must be the Batch account's endpoint, e.g. mybatch.westeurope.batch.azure.com or an https:// URL",
    ),
  );
});

test.each([
  "https://management.azure.com",
  "https://management.usgovcloudapi.net/",
  "https://127.0.0.1:8443",
])("the Resource Manager endpoint %s is taken as given", (given) => {
  expect(validateArmEndpoint("--arm-endpoint", given)).toBe(given);
});

test.each<unknown>([
  "http://management.azure.com",
  "management.azure.com",
  "https://user:pw@management.azure.com",
  "https://management.azure.com/?sv=1",
  "https://management.azure.com/#x",
  "",
  42,
])("the Resource Manager endpoint %j is refused with the one rule every caller uses", (given) => {
  expect(() => validateArmEndpoint("armEndpoint", given)).toThrow(
    new InputError(
      "armEndpoint",
      given,
      "must be an https:// URL of a Resource Manager endpoint, e.g. https://management.azure.com",
    ),
  );
});
