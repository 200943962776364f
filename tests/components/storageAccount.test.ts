import { simulate, unwrap } from "../helpers";
import { StorageAccount } from "../../components/storageAccount";
import { InputError } from "../../lib/core/errors";
import { InputErrors } from "../../lib/core/config";
import { fakeAzure } from "../support/fakeAzure";

const SUB = "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const STORAGE = "azure-native:storage:StorageAccount";
const BLOB = "azure-native:storage:BlobServiceProperties";
const COMPONENT = "hpc-batch:storage:StorageAccount";

// A fake provider: ARM ids and the properties Azure computes (name, endpoints), from the inputs.
const azure = fakeAzure({ subscriptionId: SUB });
const sim = simulate({
  project: "hpc-batch",
  stack: "test",
  id: (r) => azure.id(r) ?? `${r.name}-id`,
  state: (r) => azure.state(r) ?? {},
});

test("defaults: StorageV2, LRS, TLS 1.2, HTTPS only, private, keyless, 7-day soft delete", async () => {
  const sa = new StorageAccount("app", {
    resourceGroupName: "rg-hpc",
    location: "westeurope",
    accountName: "sthpc01",
    tags: { env: "test" },
  });
  await sim.settle();

  const comp = sim.find(COMPONENT, "app");
  expect(comp.custom).toBe(false);
  expect(comp.parent).toBeUndefined();

  const account = sim.find(STORAGE, "app");
  expect(account.parent).toBe(comp.urn);
  expect(account.custom).toBe(true);
  expect(account.inputs).toEqual({
    resourceGroupName: "rg-hpc",
    location: "westeurope",
    accountName: "sthpc01",
    kind: "StorageV2",
    sku: { name: "Standard_LRS" },
    accessTier: "Hot",
    minimumTlsVersion: "TLS1_2",
    enableHttpsTrafficOnly: true,
    allowBlobPublicAccess: false,
    allowSharedKeyAccess: false,
    defaultToOAuthAuthentication: true,
    tags: { env: "test" },
  });
  expect(account.options.replaceOnChanges).toEqual([]);
  expect(account.options.deleteBeforeReplace).toBe(false);

  const blob = sim.find(BLOB, "app-blob");
  expect(blob.parent).toBe(comp.urn);
  expect(blob.inputs).toEqual({
    resourceGroupName: "rg-hpc",
    accountName: "sthpc01", // the account's output name: the blob service waits for the account
    blobServicesName: "default",
    deleteRetentionPolicy: { enabled: true, days: 7 },
    containerDeleteRetentionPolicy: { enabled: true, days: 7 },
  });

  const id = `/subscriptions/${SUB}/resourceGroups/rg-hpc/providers/Microsoft.Storage/storageAccounts/sthpc01`;
  expect(await unwrap(sa.accountId)).toBe(id);
  expect(await unwrap(sa.accountName)).toBe("sthpc01");
  expect(await unwrap(sa.primaryBlobEndpoint)).toBe("https://sthpc01.blob.core.windows.net/");
  expect(comp.outputs).toEqual({
    accountId: id,
    accountName: "sthpc01",
    primaryBlobEndpoint: "https://sthpc01.blob.core.windows.net/",
  });
  expect(sim.registrations.filter((r) => r.parent === comp.urn).map((r) => r.type)).toEqual([
    STORAGE,
    BLOB,
  ]);
});

test("every default can be changed deliberately", async () => {
  new StorageAccount("custom", {
    resourceGroupName: "rg-hpc",
    accountName: "sthpc02",
    skuName: "Standard_ZRS",
    allowSharedKeyAccess: true,
    softDeleteRetentionDays: 30,
  });
  await sim.settle();

  const account = sim.find(STORAGE, "custom");
  expect(account.inputs.sku).toEqual({ name: "Standard_ZRS" });
  expect(account.inputs.allowSharedKeyAccess).toBe(true);
  expect(account.inputs.location).toBeUndefined(); // azure-native then uses the group's region
  expect(account.inputs.tags).toBeUndefined();
  const blob = sim.find(BLOB, "custom-blob");
  expect(blob.inputs.deleteRetentionPolicy).toEqual({ enabled: true, days: 30 });
  expect(blob.inputs.containerDeleteRetentionPolicy).toEqual({ enabled: true, days: 30 });
});

test("caller options reach the children through the component (protect is inherited)", async () => {
  new StorageAccount(
    "locked",
    { resourceGroupName: "rg-hpc", accountName: "sthpc03" },
    { protect: true },
  );
  await sim.settle();
  expect(sim.find(COMPONENT, "locked").options.protect).toBe(true);
  expect(sim.find(STORAGE, "locked").options.protect).toBe(true);
  expect(sim.find(BLOB, "locked-blob").options.protect).toBe(true);
});

test("two instances do not collide: children are named from the component name", async () => {
  new StorageAccount("one", { resourceGroupName: "rg", accountName: "stone01" });
  new StorageAccount("two", { resourceGroupName: "rg", accountName: "sttwo01" });
  await sim.settle();
  expect(sim.find(STORAGE, "one").inputs.accountName).toBe("stone01");
  expect(sim.find(STORAGE, "two").inputs.accountName).toBe("sttwo01");
  expect(sim.find(BLOB, "two-blob").parent).toBe(sim.find(COMPONENT, "two").urn);
});

describe("bad args throw before anything is registered", () => {
  test.each<[string, Record<string, unknown>, string]>([
    [
      "bad1",
      { accountName: "St_Bad" },
      'StorageAccount(bad1).accountName "St_Bad" is invalid: must be 3 to 24 lowercase letters and digits',
    ],
    [
      "bad2",
      { accountName: "stok", skuName: "Premium_LRS" },
      'StorageAccount(bad2).skuName "Premium_LRS" is invalid: must be one of Standard_LRS, Standard_ZRS, Standard_GRS, Standard_RAGRS, Standard_GZRS, Standard_RAGZRS',
    ],
    [
      "bad3",
      { accountName: "stok", softDeleteRetentionDays: 0 },
      "StorageAccount(bad3).softDeleteRetentionDays 0 is invalid: must be a whole number from 1 to 365",
    ],
  ])("%s", async (name, extra, message) => {
    const make = () => new StorageAccount(name, { resourceGroupName: "rg", ...extra } as never);
    expect(make).toThrow(InputError);
    expect(make).toThrow(new Error(message));
    await sim.settle();
    expect(sim.registrations.filter((r) => r.name.startsWith(name))).toEqual([]);
  });

  test("several problems are reported together", () => {
    const make = () =>
      new StorageAccount("bad4", {
        resourceGroupName: "rg",
        accountName: "x",
        softDeleteRetentionDays: 366,
      });
    expect(make).toThrow(InputErrors);
    expect(make).toThrow(
      new Error(
        'StorageAccount(bad4).accountName "x" is invalid: must be 3 to 24 lowercase letters and digits\n' +
          "StorageAccount(bad4).softDeleteRetentionDays 366 is invalid: must be a whole number from 1 to 365",
      ),
    );
  });
});
