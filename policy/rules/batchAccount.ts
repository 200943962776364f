/** Batch accounts: Entra-only data plane, auto-storage reached with a managed identity. */
import { TYPES, at, setting, type HpcPolicy } from "../framework";

export const batchEntraOnly: HpcPolicy = {
  name: "batch-entra-only-auth",
  description: "Batch accounts accept Microsoft Entra ID tokens only on their data plane.",
  enforcementLevel: "mandatory",
  resourceTypes: [TYPES.batchAccount],
  // Unset or empty leaves Batch's default, which includes SharedKey; TaskAuthenticationToken is
  // retired (Azure/Batch#140). So the only compliant value is exactly ["AAD"].
  check: (r) => {
    const modes = r.props.allowedAuthenticationModes;
    const ok = Array.isArray(modes) && modes.length > 0 && modes.every((m) => m === "AAD");
    return ok
      ? []
      : [
          setting(
            r,
            "allowedAuthenticationModes",
            '["AAD"]',
            "so the Batch API accepts only Microsoft Entra ID tokens (no shared keys)",
          ),
        ];
  },
};

export const batchAutoStorageIdentity: HpcPolicy = {
  name: "batch-auto-storage-managed-identity",
  description:
    "A Batch account reaches its auto-storage account with a managed identity, not keys.",
  enforcementLevel: "mandatory",
  resourceTypes: [TYPES.batchAccount],
  check: (r) => {
    if (r.props.autoStorage === undefined) return []; // no auto-storage, nothing to reach
    // azure-native fills in authenticationMode "StorageKeys" when it is left out.
    const mode = at(r.props, "autoStorage", "authenticationMode");
    if (mode !== "BatchAccountManagedIdentity") {
      return [
        setting(
          r,
          "autoStorage.authenticationMode",
          '"BatchAccountManagedIdentity"',
          "so Batch reaches the storage account with its managed identity instead of the account keys",
        ),
      ];
    }
    const identity = at(r.props, "identity", "type");
    if (identity === "UserAssigned" || identity === "SystemAssigned") return [];
    return [
      setting(
        r,
        "identity.type",
        '"UserAssigned"',
        "with an identity that holds Storage Blob Data Contributor on the storage account: " +
          "auto-storage through BatchAccountManagedIdentity has no other way in",
      ),
    ];
  },
};
