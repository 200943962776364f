/**
 * The one table of built-in roles. Expected GUIDs and names are copied from the Microsoft Learn
 * page "Azure built-in roles" (learn.microsoft.com/azure/role-based-access-control/built-in-roles,
 * the "Built-in role | Description | ID" tables of its Privileged, General, Storage and Security
 * sections); a built-in role's GUID is the same in every tenant.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { BUILT_IN_ROLES, ROLE_NAMES, roleNamesById } from "../../../lib/core/roles";

const ROOT = path.resolve(__dirname, "../../..");

test("each built-in role has the GUID and name Microsoft Learn lists", () => {
  const table = Object.fromEntries(
    Object.entries(BUILT_IN_ROLES).map(([role, id]) => [
      role,
      [id, ROLE_NAMES[role as keyof typeof BUILT_IN_ROLES]],
    ]),
  );
  expect(table).toEqual({
    owner: ["8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner"],
    contributor: ["b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor"],
    reader: ["acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader"],
    userAccessAdministrator: ["18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", "User Access Administrator"],
    roleBasedAccessControlAdministrator: [
      "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
      "Role Based Access Control Administrator",
    ],
    storageBlobDataOwner: ["b7e6dc6d-f1e8-4753-8033-0f276bb0955b", "Storage Blob Data Owner"],
    storageBlobDataContributor: [
      "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
      "Storage Blob Data Contributor",
    ],
    storageBlobDataReader: ["2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", "Storage Blob Data Reader"],
    keyVaultCryptoUser: ["12338af0-0e69-4776-bea7-57ae8d297424", "Key Vault Crypto User"],
  });
  expect(Object.keys(ROLE_NAMES)).toEqual(Object.keys(BUILT_IN_ROLES));
});

test("roleNamesById maps the given roles' GUIDs to their names, in the order given", () => {
  const byId = roleNamesById(["reader", "storageBlobDataContributor"]);
  expect(Object.entries(byId)).toEqual([
    ["acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader"],
    ["ba92f5b4-2d11-453d-a403-e96b0029c9fe", "Storage Blob Data Contributor"],
  ]);
  expect(roleNamesById([])).toEqual({});
});

/** The .ts files under `dir`, relative to the repository. */
function sources(dir: string): string[] {
  return fs
    .readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)).split(path.sep).join("/"))
    .sort();
}

test("no source but lib/core/roles.ts spells a built-in role's GUID", () => {
  const guids = Object.values(BUILT_IN_ROLES);
  const spelled = ["lib", "components", "policy", "bootstrap"]
    .flatMap(sources)
    .filter((file) => file !== "lib/core/roles.ts")
    .flatMap((file) => {
      const text = fs.readFileSync(path.join(ROOT, file), "utf8").toLowerCase();
      return guids.filter((g) => text.includes(g)).map((g) => `${file}: ${g}`);
    });
  expect(spelled).toEqual([]);
});
