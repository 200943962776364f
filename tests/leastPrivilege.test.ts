/**
 * Least privilege in the stack (index.ts with the suite's fixture stack config): every role assignment is listed here with its role and
 * scope (a new one fails this test until someone reviews it), blob data roles sit on the one
 * storage account, nothing is privileged, and assignment names are deterministic: the same on a
 * re-run, different for a different scope, so a re-run updates instead of duplicating.
 */
import { roleAssignmentName } from "../lib/core/naming";
import { BLOB_DATA_ROLES, PRIVILEGED_ROLES } from "../policy/rules/roleAssignment";
import { evaluatePolicies } from "../policy/runner";
import type { Registration } from "./helpers";
import { FIXTURE_STACK, simulateDevStack, type DevStackRun } from "./support/devStack";

const BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let first: DevStackRun;
let again: DevStackRun;
let otherStorage: DevStackRun;

beforeAll(async () => {
  first = await simulateDevStack();
  again = await simulateDevStack();
  otherStorage = await simulateDevStack({
    config: { "hpc-batch:applicationStorageAccountName": "sthpcother01" },
  });
}, 300_000);

const assignments = (run: DevStackRun): Registration[] =>
  run.registrations
    .filter((r) => r.type === "azure-native:authorization:RoleAssignment")
    .sort((a, b) => a.name.localeCompare(b.name));
const roleGuid = (r: Registration) => String(r.inputs.roleDefinitionId).split("/").pop() ?? "";
const output = (run: DevStackRun, name: string) => String(run.outputs[name].value);

test("every role assignment: Storage Blob Data Contributor on exactly the stack's storage account", () => {
  const storageId = output(first, "storageAccountId");
  const sub = output(first, "subscriptionId");
  expect(storageId).toMatch(/\/providers\/Microsoft\.Storage\/storageAccounts\/[a-z0-9]{3,24}$/);
  expect(
    assignments(first).map((r) => ({
      name: r.name,
      role: BLOB_DATA_ROLES[roleGuid(r)],
      roleDefinitionId: r.inputs.roleDefinitionId,
      scope: r.inputs.scope,
    })),
  ).toEqual([
    // the Batch account's identity: reads packages from auto-storage, on the nodes too
    {
      name: "batch-blob-data-contributor",
      role: "Storage Blob Data Contributor",
      roleDefinitionId: `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${BLOB_DATA_CONTRIBUTOR}`,
      scope: storageId,
    },
    // whoever runs `pulumi up`: uploads the package zip with an Entra token (no SAS)
    {
      name: "deployer-blob-data-contributor",
      role: "Storage Blob Data Contributor",
      roleDefinitionId: `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${BLOB_DATA_CONTRIBUTOR}`,
      scope: storageId,
    },
  ]);
});

test("no assignment uses a privileged role, and the role-assignment-scope policy agrees", () => {
  expect(assignments(first).filter((r) => roleGuid(r) in PRIVILEGED_ROLES)).toEqual([]);
  const { violations } = evaluatePolicies(first.registrations, { stack: FIXTURE_STACK });
  expect(violations.filter((v) => v.policy === "role-assignment-scope")).toEqual([]);
});

test("each name is the GUID of its scope, principal and role", () => {
  for (const r of assignments(first)) {
    const { scope, principalId, roleAssignmentName: name } = r.inputs as Record<string, string>;
    expect([r.name, name]).toEqual([r.name, roleAssignmentName(scope, principalId, roleGuid(r))]);
    expect(name).toMatch(GUID);
  }
  const names = assignments(first).map((r) => r.inputs.roleAssignmentName);
  expect(new Set(names).size).toBe(names.length);
});

test("a re-run gives the same names: it updates the assignments, never duplicates them", () => {
  const names = (run: DevStackRun) =>
    assignments(run).map((r) => [r.name, r.inputs.roleAssignmentName]);
  expect(names(again)).toEqual(names(first));
});

test("another storage account gives other scopes and other names", () => {
  const storageId = output(otherStorage, "storageAccountId");
  expect(storageId.endsWith("/storageAccounts/sthpcother01")).toBe(true);
  const before = new Map(assignments(first).map((r) => [r.name, r.inputs.roleAssignmentName]));
  for (const r of assignments(otherStorage)) {
    expect([r.name, r.inputs.scope]).toEqual([r.name, storageId]);
    expect(r.inputs.roleAssignmentName).not.toBe(before.get(r.name));
    expect(r.inputs.roleAssignmentName).toMatch(GUID);
  }
  expect(assignments(otherStorage).map((r) => r.name)).toEqual([...before.keys()]);
});
