/** Role assignments: the narrowest that work. */
import { renderValue } from "../../lib/core/errors";
import { BUILT_IN_ROLES, roleNamesById } from "../../lib/core/roles";
import { TYPES, label, type HpcPolicy } from "../framework";

/**
 * Built-in roles that manage everything in their scope (Owner, Contributor) or grant any role in
 * it (User Access Administrator, Role Based Access Control Administrator), by GUID; ids and names
 * come from lib/core/roles.ts.
 */
export const PRIVILEGED_ROLES: Readonly<Record<string, string>> = roleNamesById([
  "owner",
  "contributor",
  "userAccessAdministrator",
  "roleBasedAccessControlAdministrator",
]);

/** The two privileged roles whose reach an ABAC `condition` can limit to chosen roles. */
const DELEGATING_ROLES: readonly string[] = [
  BUILT_IN_ROLES.userAccessAdministrator,
  BUILT_IN_ROLES.roleBasedAccessControlAdministrator,
];

/** Built-in blob data roles: each reads (or writes) every blob its scope holds. */
export const BLOB_DATA_ROLES: Readonly<Record<string, string>> = roleNamesById([
  "storageBlobDataOwner",
  "storageBlobDataContributor",
  "storageBlobDataReader",
]);

/** The root scope, a management group or a subscription: scopes that span many resources. */
const BROAD_SCOPE_RE =
  /^(\/|\/providers\/Microsoft\.Management\/managementGroups\/[^/]+\/?|\/subscriptions\/[^/]+\/?)$/i;
/** One storage account, or one container in it. */
const STORAGE_SCOPE_RE =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Storage\/storageAccounts\/[^/]+(\/blobServices\/default(\/containers\/[^/]+)?)?\/?$/i;

export const roleAssignmentScope: HpcPolicy = {
  name: "role-assignment-scope",
  description:
    "Role assignments are the narrowest that work: no Owner, Contributor or unconditioned access " +
    "administration on a subscription or wider, and blob data roles on one storage account.",
  enforcementLevel: "mandatory",
  resourceTypes: [TYPES.roleAssignment],
  check: (r) => {
    const scope = r.props.scope;
    const roleId = r.props.roleDefinitionId;
    // Unknown until the scope's resource exists (preview); checked again with real values on up.
    if (typeof scope !== "string" || typeof roleId !== "string") return [];
    const guid = (roleId.split("/").pop() ?? "").toLowerCase();
    const privileged = PRIVILEGED_ROLES[guid];
    if (privileged && BROAD_SCOPE_RE.test(scope)) {
      const limited = DELEGATING_ROLES.includes(guid) && typeof r.props.condition === "string";
      if (!limited) {
        return [
          `${label(r)}: ${privileged} at scope ${renderValue(scope)} reaches every resource ` +
            "below it; assign a narrower role on the one resource that needs it (for blobs, " +
            "Storage Blob Data Contributor on the storage account)" +
            (DELEGATING_ROLES.includes(guid)
              ? ", or add a condition that limits which roles it may assign."
              : "."),
        ];
      }
    }
    const blobRole = BLOB_DATA_ROLES[guid];
    if (blobRole && !STORAGE_SCOPE_RE.test(scope)) {
      return [
        `${label(r)}: ${blobRole} at scope ${renderValue(scope)} reaches the blobs of every ` +
          "storage account below it; set scope to the one storage account's id " +
          "(/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Storage/storageAccounts/<name>).",
      ];
    }
    return [];
  },
};
