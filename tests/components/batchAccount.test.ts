import * as pulumi from "@pulumi/pulumi";
import { simulate, unwrap } from "../helpers";
import { BatchAccount } from "../../components/batchAccount";
import { InputError } from "../../lib/core/errors";
import { InputErrors } from "../../lib/core/config";
import { armIds, fakeAzure } from "../support/fakeAzure";

const SUB = "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const STORAGE_ID = `/subscriptions/${SUB}/resourceGroups/rg-hpc-batch-dev/providers/Microsoft.Storage/storageAccounts/sthpcbatchdev`;
const PRINCIPAL = "11111111-aaaa-4bbb-8ccc-222222222222";
const CLIENT = "44444444-dddd-4eee-8fff-555555555555";
const COMPONENT = "hpc-batch:batch:BatchAccount";
const IDENTITY = "azure-native:managedidentity:UserAssignedIdentity";
const ROLE = "azure-native:authorization:RoleAssignment";
const ACCOUNT = "azure-native:batch:BatchAccount";

const identityId = (name: string) => armIds(SUB).userAssignedIdentity("rg-hpc", name);

// A fake provider: ARM ids and what Azure computes (principal and client ids, name, endpoint).
const azure = fakeAzure({ subscriptionId: SUB, principalId: PRINCIPAL, clientId: CLIENT });
const sim = simulate({
  project: "hpc-batch",
  stack: "test",
  id: (r) => azure.id(r) ?? `${r.name}-id`,
  state: (r) => azure.state(r) ?? {},
});

test("a keyless account whose identity reaches the storage account's blobs", async () => {
  const ba = new BatchAccount("batch", {
    resourceGroupName: "rg-hpc",
    location: "westeurope",
    accountName: "bahpc01",
    storageAccountId: STORAGE_ID,
    tags: { env: "test" },
  });
  await sim.settle();

  const comp = sim.find(COMPONENT, "batch");
  expect(comp.custom).toBe(false);
  expect(comp.parent).toBeUndefined();

  const identity = sim.find(IDENTITY, "batch-identity");
  expect(identity.parent).toBe(comp.urn);
  expect(identity.inputs).toEqual({
    resourceGroupName: "rg-hpc",
    location: "westeurope",
    resourceName: "id-bahpc01",
    tags: { env: "test" },
  });

  const role = sim.find(ROLE, "batch-blob-data-contributor");
  expect(role.parent).toBe(comp.urn);
  expect(role.inputs).toEqual({
    // uuid5 of scope|principal|role in hpc-batch's namespace, computed with Python's uuid module.
    roleAssignmentName: "bd683526-013b-51ba-a0df-1abd5244bd21",
    scope: STORAGE_ID,
    principalId: PRINCIPAL,
    principalType: "ServicePrincipal",
    roleDefinitionId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe`,
  });

  const account = sim.find(ACCOUNT, "batch");
  expect(account.parent).toBe(comp.urn);
  expect(account.inputs).toEqual({
    resourceGroupName: "rg-hpc",
    location: "westeurope",
    accountName: "bahpc01",
    poolAllocationMode: "BatchService",
    allowedAuthenticationModes: ["AAD"],
    publicNetworkAccess: "Enabled",
    identity: { type: "UserAssigned", userAssignedIdentities: [identityId("id-bahpc01")] },
    autoStorage: {
      storageAccountId: STORAGE_ID,
      authenticationMode: "BatchAccountManagedIdentity",
      nodeIdentityReference: { resourceId: identityId("id-bahpc01") },
    },
    tags: { env: "test" },
  });
  // dependsOn (the role assignment) plus what its inputs reference (the identity).
  expect([...account.options.dependsOn].sort()).toEqual([identity.urn, role.urn].sort());

  expect(sim.registrations.filter((r) => r.parent === comp.urn).map((r) => r.type)).toEqual([
    IDENTITY,
    ROLE,
    ACCOUNT,
  ]);

  const outputs = {
    accountName: "bahpc01",
    accountId: `/subscriptions/${SUB}/resourceGroups/rg-hpc/providers/Microsoft.Batch/batchAccounts/bahpc01`,
    accountEndpoint: "bahpc01.westeurope.batch.azure.com",
    identityId: identityId("id-bahpc01"),
    identityPrincipalId: PRINCIPAL,
    identityClientId: CLIENT,
  };
  expect(comp.outputs).toEqual(outputs);
  expect(await unwrap(ba.accountName)).toBe(outputs.accountName);
  expect(await unwrap(ba.accountId)).toBe(outputs.accountId);
  expect(await unwrap(ba.accountEndpoint)).toBe(outputs.accountEndpoint);
  expect(await unwrap(ba.identityId)).toBe(outputs.identityId);
  expect(await unwrap(ba.identityPrincipalId)).toBe(PRINCIPAL);
  expect(await unwrap(ba.identityClientId)).toBe(CLIENT);
});

test("public network access can be disabled; Output args are accepted", async () => {
  new BatchAccount("private", {
    resourceGroupName: "rg-hpc",
    accountName: pulumi.output("bahpc02"),
    storageAccountId: pulumi.output(STORAGE_ID),
    publicNetworkAccess: "Disabled",
  });
  await sim.settle();
  const account = sim.find(ACCOUNT, "private");
  expect(account.inputs.publicNetworkAccess).toBe("Disabled");
  expect(account.inputs.accountName).toBe("bahpc02");
  expect(sim.find(IDENTITY, "private-identity").inputs.resourceName).toBe("id-bahpc02");
  expect(sim.find(ROLE, "private-blob-data-contributor").inputs.scope).toBe(STORAGE_ID);
});

describe("bad args throw before anything is registered", () => {
  test.each<[string, Record<string, unknown>, string]>([
    [
      "bad1",
      { accountName: "Batch-1", storageAccountId: STORAGE_ID },
      'BatchAccount(bad1).accountName "Batch-1" is invalid: must be 3 to 24 lowercase letters and digits',
    ],
    [
      "bad2",
      { accountName: "bahpc", storageAccountId: "sthpcbatchdev" },
      'BatchAccount(bad2).storageAccountId "sthpcbatchdev" is invalid: must be a storage account resource id: /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Storage/storageAccounts/<name>',
    ],
    [
      "bad3",
      {
        accountName: "bahpc",
        storageAccountId: STORAGE_ID,
        publicNetworkAccess: "SecuredByPerimeter",
      },
      'BatchAccount(bad3).publicNetworkAccess "SecuredByPerimeter" is invalid: must be "Enabled" or "Disabled"',
    ],
  ])("%s", async (name, extra, message) => {
    const make = () => new BatchAccount(name, { resourceGroupName: "rg", ...extra } as never);
    expect(make).toThrow(InputError);
    expect(make).toThrow(new Error(message));
    await sim.settle();
    expect(sim.registrations.filter((r) => r.name.startsWith(name))).toEqual([]);
  });

  test("several problems are reported together", () => {
    const make = () =>
      new BatchAccount("bad4", {
        resourceGroupName: "rg",
        accountName: "BA",
        storageAccountId: "",
      });
    expect(make).toThrow(InputErrors);
    expect(make).toThrow(
      new Error(
        'BatchAccount(bad4).accountName "BA" is invalid: must be 3 to 24 lowercase letters and digits\n' +
          'BatchAccount(bad4).storageAccountId "" is invalid: must be a storage account resource id: /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Storage/storageAccounts/<name>',
      ),
    );
  });
});
