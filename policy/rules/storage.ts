/** Storage accounts and their blob containers: HTTPS, TLS 1.2+, no anonymous or key access. */
import { TYPES, baseType, mustEqual, setting, type HpcPolicy } from "../framework";

export const storageHttpsOnly: HpcPolicy = {
  name: "storage-https-only",
  description: "Storage accounts accept HTTPS requests only.",
  enforcementLevel: "mandatory",
  resourceTypes: [TYPES.storageAccount],
  check: mustEqual("enableHttpsTrafficOnly", true, "so the account refuses plain HTTP"),
};

/** TLS 1.2 or later; the storage service has no minimum above 1.2 yet, but 1.3 would also do. */
const TLS_1_2_OR_LATER = ["TLS1_2", "TLS1_3"];

export const storageMinimumTls: HpcPolicy = {
  name: "storage-minimum-tls-1-2",
  description: "Storage accounts refuse TLS versions older than 1.2.",
  enforcementLevel: "mandatory",
  resourceTypes: [TYPES.storageAccount],
  check: (r) =>
    TLS_1_2_OR_LATER.includes(r.props.minimumTlsVersion as string)
      ? []
      : [
          setting(
            r,
            "minimumTlsVersion",
            '"TLS1_2"',
            "so clients cannot fall back to TLS 1.0 or 1.1",
          ),
        ],
};

export const storageNoPublicBlobAccess: HpcPolicy = {
  name: "storage-no-public-blob-access",
  description: "No blob or container can be read anonymously.",
  enforcementLevel: "mandatory",
  resourceTypes: [TYPES.storageAccount, TYPES.blobContainer],
  check: (r) => {
    if (baseType(r.type) === TYPES.storageAccount) {
      return mustEqual(
        "allowBlobPublicAccess",
        false,
        "so no container can be opened to anonymous readers",
      )(r);
    }
    // Unset means "None" for a container, and the account-level switch above overrides it anyway.
    const access = r.props.publicAccess;
    return access === undefined || access === "None"
      ? []
      : [setting(r, "publicAccess", '"None"', "so its blobs cannot be read anonymously")];
  },
};

export const storageNoSharedKey: HpcPolicy = {
  name: "storage-no-shared-key",
  description:
    "Storage accounts accept Microsoft Entra ID tokens only: no account keys, no key-signed SAS.",
  enforcementLevel: "mandatory",
  resourceTypes: [TYPES.storageAccount],
  // Unset means "allowed" (see allowSharedKeyAccess in azure-native's storageAccount.d.ts).
  check: mustEqual(
    "allowSharedKeyAccess",
    false,
    "so only Microsoft Entra ID tokens are accepted (no account keys, no key-signed SAS)",
  ),
};
