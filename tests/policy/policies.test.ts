/**
 * Each policy of the pack: the compliant fixture of every type it checks passes, and each
 * mutation (one change to a compliant fixture) yields exactly the expected messages.
 */
import { RETIRED_NODE_AGENTS } from "../../lib/core/poolRules";
import { resolvePolicyConfig, type PolicyPackConfig } from "../../policy/config";
import { TYPES, baseType, stackOfUrn } from "../../policy/framework";
import { POLICIES } from "../../policy/policies";
import * as poolRules from "../../policy/rules/pool";
import { UBUNTU_2404_DEPLOYMENT } from "../support/expectedPool";

type Props = Record<string, unknown>;
type Kind = keyof typeof TYPES;

const TAGS = { app: "hpc-batch", stack: "prod" };

const SUB = "/subscriptions/6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const STORAGE_ID = `${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/data`;
const ROLE = (guid: string) => `${SUB}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;
const BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";

/** Inputs as hpc-batch's components register them: every policy passes. */
const COMPLIANT: Record<Kind, Props> = {
  resourceGroup: { location: "westeurope", tags: TAGS },
  roleAssignment: {
    roleAssignmentName: "dc2c6df8-325f-5175-9c82-1a02e14ecc67",
    scope: STORAGE_ID,
    principalId: "0e5a7b3c-1d2e-4f30-9a4b-5c6d7e8f9a0b",
    principalType: "ServicePrincipal",
    roleDefinitionId: ROLE(BLOB_DATA_CONTRIBUTOR),
  },
  identity: { resourceGroupName: "rg", tags: TAGS },
  storageAccount: {
    resourceGroupName: "rg",
    kind: "StorageV2",
    sku: { name: "Standard_LRS" },
    minimumTlsVersion: "TLS1_2",
    enableHttpsTrafficOnly: true,
    allowBlobPublicAccess: false,
    allowSharedKeyAccess: false,
    tags: TAGS,
  },
  blobContainer: { accountName: "data", containerName: "packages", publicAccess: "None" },
  batchAccount: {
    resourceGroupName: "rg",
    poolAllocationMode: "BatchService",
    allowedAuthenticationModes: ["AAD"],
    identity: { type: "UserAssigned", userAssignedIdentities: ["/subscriptions/s/id"] },
    autoStorage: {
      storageAccountId: "/subscriptions/s/storage",
      authenticationMode: "BatchAccountManagedIdentity",
      nodeIdentityReference: { resourceId: "/subscriptions/s/id" },
    },
    publicNetworkAccess: "Enabled",
    tags: TAGS,
  },
  pool: {
    accountName: "batch",
    vmSize: "Standard_D2s_v5",
    deploymentConfiguration: UBUNTU_2404_DEPLOYMENT,
    targetNodeCommunicationMode: "Simplified",
    scaleSettings: { fixedScale: { targetDedicatedNodes: 0, targetLowPriorityNodes: 2 } },
    taskSlotsPerNode: 1,
  },
  application: { accountName: "batch", applicationName: "ffmpeg", allowUpdates: false },
  dynamic: {
    __provider: "exports.handler = ...",
    applicationId: "ffmpeg",
    version: "1.2.0",
    allowUpdates: false,
  },
  packageVersion: {
    __provider: "exports.handler = ...",
    applicationId: "ffmpeg",
    version: "1.2.0",
    allowUpdates: false,
  },
};

const NAMES: Record<Kind, string> = {
  resourceGroup: "rg",
  roleAssignment: "blob-data",
  identity: "id",
  storageAccount: "data",
  blobContainer: "packages",
  batchAccount: "batch",
  pool: "hpc",
  application: "ffmpeg",
  dynamic: "ffmpeg-1.2.0",
  packageVersion: "app-package-version",
};

interface CheckOptions {
  stack?: string;
  config?: PolicyPackConfig[string];
  /** Overrides the kind's type token, e.g. with an API-versioned one. */
  type?: string;
}

function runPolicy(name: string, kind: Kind, props: Props, opts: CheckOptions = {}): string[] {
  const policy = POLICIES.find((p) => p.name === name);
  if (!policy) throw new Error(`no policy ${name}`);
  const type = opts.type ?? TYPES[kind];
  const stack = opts.stack ?? "prod";
  const resource = {
    type,
    name: NAMES[kind],
    urn: `urn:pulumi:${stack}::hpc-batch::${type}::${NAMES[kind]}`,
    props,
  };
  const { settings } = resolvePolicyConfig(policy, opts.config);
  return policy.check(resource, { stack, config: settings });
}

/** A deep copy of the compliant fixture with one change. */
function mutated(kind: Kind, change: (p: Props) => void): Props {
  const props = structuredClone(COMPLIANT[kind]);
  change(props);
  return props;
}

const vmConfig = (p: Props) =>
  (p.deploymentConfiguration as Props).virtualMachineConfiguration as Props;
const fixed = (p: Props) => (p.scaleSettings as Props).fixedScale as Props;
const autoStorage = (p: Props) => p.autoStorage as Props;

const SUPPORTED =
  'use imageReference { publisher: "canonical", offer: "ubuntu-24_04-lts", sku: "server" } ' +
  'with nodeAgentSkuId: "batch.node.ubuntu 24.04".';

test.each(POLICIES.map((p) => [p.name, p] as const))(
  "%s: the compliant fixture of every type it checks passes, in a dev stack and a prod stack",
  (name, policy) => {
    for (const type of policy.resourceTypes) {
      const kind = (Object.keys(TYPES) as Kind[]).find((k) => TYPES[k] === type)!;
      for (const stack of ["dev", "prod"]) {
        expect(runPolicy(name, kind, COMPLIANT[kind], { stack })).toEqual([]);
      }
    }
  },
);

interface Mutation {
  policy: string;
  what: string;
  kind: Kind;
  change: (p: Props) => void;
  opts?: CheckOptions;
  expected: string[];
}

const MUTATIONS: Mutation[] = [
  // storage-https-only
  {
    policy: "storage-https-only",
    what: "HTTP allowed",
    kind: "storageAccount",
    change: (p) => (p.enableHttpsTrafficOnly = false),
    expected: [
      'storage account "data": enableHttpsTrafficOnly is false; set enableHttpsTrafficOnly: true so the account refuses plain HTTP.',
    ],
  },
  {
    policy: "storage-https-only",
    what: "left to the API default",
    kind: "storageAccount",
    change: (p) => delete p.enableHttpsTrafficOnly,
    expected: [
      'storage account "data": enableHttpsTrafficOnly is (unset); set enableHttpsTrafficOnly: true so the account refuses plain HTTP.',
    ],
  },
  {
    policy: "storage-https-only",
    what: "an API-versioned type token is checked too",
    kind: "storageAccount",
    change: (p) => (p.enableHttpsTrafficOnly = false),
    opts: { type: "azure-native:storage/v20230101:StorageAccount" },
    expected: [
      'storage account "data": enableHttpsTrafficOnly is false; set enableHttpsTrafficOnly: true so the account refuses plain HTTP.',
    ],
  },
  // storage-minimum-tls-1-2
  {
    policy: "storage-minimum-tls-1-2",
    what: "TLS 1.0",
    kind: "storageAccount",
    change: (p) => (p.minimumTlsVersion = "TLS1_0"),
    expected: [
      'storage account "data": minimumTlsVersion is "TLS1_0"; set minimumTlsVersion: "TLS1_2" so clients cannot fall back to TLS 1.0 or 1.1.',
    ],
  },
  {
    policy: "storage-minimum-tls-1-2",
    what: "unset (Azure's default is TLS 1.0)",
    kind: "storageAccount",
    change: (p) => delete p.minimumTlsVersion,
    expected: [
      'storage account "data": minimumTlsVersion is (unset); set minimumTlsVersion: "TLS1_2" so clients cannot fall back to TLS 1.0 or 1.1.',
    ],
  },
  {
    policy: "storage-minimum-tls-1-2",
    what: "TLS 1.3 is later than 1.2 and passes",
    kind: "storageAccount",
    change: (p) => (p.minimumTlsVersion = "TLS1_3"),
    expected: [],
  },
  // storage-no-public-blob-access
  {
    policy: "storage-no-public-blob-access",
    what: "account allows public blobs",
    kind: "storageAccount",
    change: (p) => (p.allowBlobPublicAccess = true),
    expected: [
      'storage account "data": allowBlobPublicAccess is true; set allowBlobPublicAccess: false so no container can be opened to anonymous readers.',
    ],
  },
  {
    policy: "storage-no-public-blob-access",
    what: "container readable anonymously",
    kind: "blobContainer",
    change: (p) => (p.publicAccess = "Blob"),
    expected: [
      'blob container "packages": publicAccess is "Blob"; set publicAccess: "None" so its blobs cannot be read anonymously.',
    ],
  },
  // storage-no-shared-key
  {
    policy: "storage-no-shared-key",
    what: "unset (Azure's default allows keys)",
    kind: "storageAccount",
    change: (p) => delete p.allowSharedKeyAccess,
    expected: [
      'storage account "data": allowSharedKeyAccess is (unset); set allowSharedKeyAccess: false so only Microsoft Entra ID tokens are accepted (no account keys, no key-signed SAS).',
    ],
  },
  // batch-entra-only-auth
  {
    policy: "batch-entra-only-auth",
    what: "shared keys allowed",
    kind: "batchAccount",
    change: (p) => (p.allowedAuthenticationModes = ["AAD", "SharedKey"]),
    expected: [
      'Batch account "batch": allowedAuthenticationModes is ["AAD","SharedKey"]; set allowedAuthenticationModes: ["AAD"] so the Batch API accepts only Microsoft Entra ID tokens (no shared keys).',
    ],
  },
  {
    policy: "batch-entra-only-auth",
    what: "empty (Batch's default includes shared keys)",
    kind: "batchAccount",
    change: (p) => (p.allowedAuthenticationModes = []),
    expected: [
      'Batch account "batch": allowedAuthenticationModes is []; set allowedAuthenticationModes: ["AAD"] so the Batch API accepts only Microsoft Entra ID tokens (no shared keys).',
    ],
  },
  {
    policy: "batch-entra-only-auth",
    what: "unset",
    kind: "batchAccount",
    change: (p) => delete p.allowedAuthenticationModes,
    expected: [
      'Batch account "batch": allowedAuthenticationModes is (unset); set allowedAuthenticationModes: ["AAD"] so the Batch API accepts only Microsoft Entra ID tokens (no shared keys).',
    ],
  },
  // batch-auto-storage-managed-identity
  {
    policy: "batch-auto-storage-managed-identity",
    what: "storage keys",
    kind: "batchAccount",
    change: (p) => (autoStorage(p).authenticationMode = "StorageKeys"),
    expected: [
      'Batch account "batch": autoStorage.authenticationMode is "StorageKeys"; set autoStorage.authenticationMode: "BatchAccountManagedIdentity" so Batch reaches the storage account with its managed identity instead of the account keys.',
    ],
  },
  {
    policy: "batch-auto-storage-managed-identity",
    what: "managed identity mode without an identity",
    kind: "batchAccount",
    change: (p) => (p.identity = { type: "None" }),
    expected: [
      'Batch account "batch": identity.type is "None"; set identity.type: "UserAssigned" with an identity that holds Storage Blob Data Contributor on the storage account: auto-storage through BatchAccountManagedIdentity has no other way in.',
    ],
  },
  {
    policy: "batch-auto-storage-managed-identity",
    what: "no auto-storage at all passes",
    kind: "batchAccount",
    change: (p) => delete p.autoStorage,
    expected: [],
  },
  // pool-supported-node-agent
  ...["batch.node.ubuntu 20.04", "batch.node.ubuntu 18.04", "batch.node.debian 10"].map(
    (agent): Mutation => ({
      policy: "pool-supported-node-agent",
      what: agent,
      kind: "pool",
      change: (p) => (vmConfig(p).nodeAgentSkuId = agent),
      expected: [
        `pool "hpc": nodeAgentSkuId "${agent}" is retired by Azure Batch (no new nodes, no support); ${SUPPORTED}`,
      ],
    }),
  ),
  {
    policy: "pool-supported-node-agent",
    what: "CentOS, spelled loosely",
    kind: "pool",
    change: (p) => (vmConfig(p).nodeAgentSkuId = "Batch.Node.CentOS  7"),
    expected: [
      `pool "hpc": nodeAgentSkuId "Batch.Node.CentOS  7" is retired by Azure Batch (no new nodes, no support); ${SUPPORTED}`,
    ],
  },
  {
    policy: "pool-supported-node-agent",
    what: "no virtual machine configuration",
    kind: "pool",
    change: (p) => (p.deploymentConfiguration = {}),
    expected: [
      `pool "hpc": deploymentConfiguration.virtualMachineConfiguration.nodeAgentSkuId is (unset); ${SUPPORTED}`,
    ],
  },
  {
    policy: "pool-supported-node-agent",
    what: "Ubuntu 22.04 is still supported (until 30 June 2027)",
    kind: "pool",
    change: (p) => (vmConfig(p).nodeAgentSkuId = "batch.node.ubuntu 22.04"),
    expected: [],
  },
  // pool-simplified-node-communication
  {
    policy: "pool-simplified-node-communication",
    what: "classic",
    kind: "pool",
    change: (p) => (p.targetNodeCommunicationMode = "Classic"),
    expected: [
      'pool "hpc": targetNodeCommunicationMode is "Classic"; set targetNodeCommunicationMode: "Simplified" so nodes need no inbound ports (classic node communication is retired).',
    ],
  },
  {
    policy: "pool-simplified-node-communication",
    what: "unset (Batch decides)",
    kind: "pool",
    change: (p) => delete p.targetNodeCommunicationMode,
    expected: [
      'pool "hpc": targetNodeCommunicationMode is (unset); set targetNodeCommunicationMode: "Simplified" so nodes need no inbound ports (classic node communication is retired).',
    ],
  },
  // pool-max-nodes
  {
    policy: "pool-max-nodes",
    what: "dedicated and Spot summed above the default cap",
    kind: "pool",
    change: (p) =>
      Object.assign(fixed(p), { targetDedicatedNodes: 40, targetLowPriorityNodes: 20 }),
    expected: [
      'pool "hpc": fixedScale asks for 60 nodes (40 dedicated + 20 Spot), more than the cap of 50 per pool; lower dedicatedNodes or spotNodes (hpc-batch:pool), or raise maxNodes in the pool-max-nodes policy config.',
    ],
  },
  {
    policy: "pool-max-nodes",
    what: "a configured cap",
    kind: "pool",
    change: (p) => Object.assign(fixed(p), { targetDedicatedNodes: 8, targetLowPriorityNodes: 4 }),
    opts: { config: { maxNodes: 10 } },
    expected: [
      'pool "hpc": fixedScale asks for 12 nodes (8 dedicated + 4 Spot), more than the cap of 10 per pool; lower dedicatedNodes or spotNodes (hpc-batch:pool), or raise maxNodes in the pool-max-nodes policy config.',
    ],
  },
  {
    policy: "pool-max-nodes",
    what: "a raised cap passes",
    kind: "pool",
    change: (p) =>
      Object.assign(fixed(p), { targetDedicatedNodes: 40, targetLowPriorityNodes: 20 }),
    opts: { config: { maxNodes: 100 } },
    expected: [],
  },
  {
    policy: "pool-max-nodes",
    what: "autoscale is not checkable and passes",
    kind: "pool",
    change: (p) => (p.scaleSettings = { autoScale: { formula: "$TargetDedicatedNodes = 500;" } }),
    expected: [],
  },
  // application-no-updates
  {
    policy: "application-no-updates",
    what: "updates allowed",
    kind: "application",
    change: (p) => (p.allowUpdates = true),
    expected: [
      'application "ffmpeg": allowUpdates is true; set allowUpdates: false so a published package version can never be overwritten in place.',
    ],
  },
  {
    policy: "application-no-updates",
    what: "unset (Batch's default is true)",
    kind: "application",
    change: (p) => delete p.allowUpdates,
    expected: [
      'application "ffmpeg": allowUpdates is (unset); set allowUpdates: false so a published package version can never be overwritten in place.',
    ],
  },
  {
    policy: "application-no-updates",
    what: "the dynamic application package resource",
    kind: "dynamic",
    change: (p) => (p.allowUpdates = true),
    expected: [
      'application package "ffmpeg-1.2.0": allowUpdates is true; set allowUpdates: false so a published package version can never be overwritten in place.',
    ],
  },
  {
    policy: "application-no-updates",
    what: "hpc-batch's own package version resource",
    kind: "packageVersion",
    change: (p) => (p.allowUpdates = true),
    expected: [
      'application package version "app-package-version": allowUpdates is true; set allowUpdates: false so a published package version can never be overwritten in place.',
    ],
  },
  {
    policy: "application-no-updates",
    what: "hpc-batch's own package version resource without allowUpdates",
    kind: "packageVersion",
    change: (p) => delete p.allowUpdates,
    expected: [
      'application package version "app-package-version": allowUpdates is (unset); set allowUpdates: false so a published package version can never be overwritten in place.',
    ],
  },
  {
    policy: "application-no-updates",
    what: "other dynamic resources pass",
    kind: "dynamic",
    change: (p) => delete p.allowUpdates,
    expected: [],
  },
  // role-assignment-scope
  {
    policy: "role-assignment-scope",
    what: "Owner on the subscription",
    kind: "roleAssignment",
    change: (p) => {
      p.scope = SUB;
      p.roleDefinitionId = ROLE("8e3af657-a8ff-443c-a75c-2fe8c4bcb635");
    },
    expected: [
      `role assignment "blob-data": Owner at scope "${SUB}" reaches every resource below it; assign a narrower role on the one resource that needs it (for blobs, Storage Blob Data Contributor on the storage account).`,
    ],
  },
  {
    policy: "role-assignment-scope",
    what: "Contributor on a management group, role id without a subscription",
    kind: "roleAssignment",
    change: (p) => {
      p.scope = "/providers/Microsoft.Management/managementGroups/corp";
      p.roleDefinitionId =
        "/providers/Microsoft.Authorization/roleDefinitions/B24988AC-6180-42A0-AB88-20F7382DD24C";
    },
    expected: [
      'role assignment "blob-data": Contributor at scope "/providers/Microsoft.Management/managementGroups/corp" reaches every resource below it; assign a narrower role on the one resource that needs it (for blobs, Storage Blob Data Contributor on the storage account).',
    ],
  },
  {
    policy: "role-assignment-scope",
    what: "User Access Administrator on the subscription without a condition",
    kind: "roleAssignment",
    change: (p) => {
      p.scope = `${SUB}/`;
      p.roleDefinitionId = ROLE("18d7d88d-d35e-4fb5-a5c3-7773c20a72d9");
    },
    expected: [
      `role assignment "blob-data": User Access Administrator at scope "${SUB}/" reaches every resource below it; assign a narrower role on the one resource that needs it (for blobs, Storage Blob Data Contributor on the storage account), or add a condition that limits which roles it may assign.`,
    ],
  },
  {
    policy: "role-assignment-scope",
    what: "RBAC Administrator on the subscription limited by a condition passes",
    kind: "roleAssignment",
    change: (p) => {
      p.scope = SUB;
      p.roleDefinitionId = ROLE("f58310d9-a9f6-439a-9e8d-f62e7b41a168");
      p.condition = "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'}))";
      p.conditionVersion = "2.0";
    },
    expected: [],
  },
  {
    policy: "role-assignment-scope",
    what: "Owner on one resource group is not a subscription-wide grant",
    kind: "roleAssignment",
    change: (p) => {
      p.scope = `${SUB}/resourceGroups/rg`;
      p.roleDefinitionId = ROLE("8e3af657-a8ff-443c-a75c-2fe8c4bcb635");
    },
    expected: [],
  },
  {
    policy: "role-assignment-scope",
    what: "blob data role on the resource group",
    kind: "roleAssignment",
    change: (p) => (p.scope = `${SUB}/resourceGroups/rg`),
    expected: [
      `role assignment "blob-data": Storage Blob Data Contributor at scope "${SUB}/resourceGroups/rg" reaches the blobs of every storage account below it; set scope to the one storage account's id (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Storage/storageAccounts/<name>).`,
    ],
  },
  {
    policy: "role-assignment-scope",
    what: "blob data reader on the subscription",
    kind: "roleAssignment",
    change: (p) => {
      p.scope = SUB;
      p.roleDefinitionId = ROLE("2a2b9908-6ea1-4ae2-8e65-a410df84e7d1");
    },
    expected: [
      `role assignment "blob-data": Storage Blob Data Reader at scope "${SUB}" reaches the blobs of every storage account below it; set scope to the one storage account's id (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Storage/storageAccounts/<name>).`,
    ],
  },
  {
    policy: "role-assignment-scope",
    what: "blob data owner on one container passes",
    kind: "roleAssignment",
    change: (p) => {
      p.scope = `${STORAGE_ID}/blobServices/default/containers/state`;
      p.roleDefinitionId = ROLE("b7e6dc6d-f1e8-4753-8033-0f276bb0955b");
    },
    expected: [],
  },
  {
    policy: "role-assignment-scope",
    what: "a scope not known yet (preview) is checked once known",
    kind: "roleAssignment",
    change: (p) => delete p.scope,
    expected: [],
  },
  // dev-stack-spot-nodes
  {
    policy: "dev-stack-spot-nodes",
    what: "dedicated nodes in dev",
    kind: "pool",
    change: (p) => (fixed(p).targetDedicatedNodes = 2),
    opts: { stack: "dev" },
    expected: [
      'pool "hpc": stack "dev" is a development stack but asks for 2 dedicated nodes; set dedicatedNodes: 0 and use spotNodes (hpc-batch:pool) instead, which cost a fraction as much.',
    ],
  },
  {
    policy: "dev-stack-spot-nodes",
    what: "dedicated nodes in a personal test stack",
    kind: "pool",
    change: (p) => (fixed(p).targetDedicatedNodes = 1),
    opts: { stack: "alice-test" },
    expected: [
      'pool "hpc": stack "alice-test" is a development stack but asks for 1 dedicated node; set dedicatedNodes: 0 and use spotNodes (hpc-batch:pool) instead, which cost a fraction as much.',
    ],
  },
  {
    policy: "dev-stack-spot-nodes",
    what: "dedicated nodes in prod pass",
    kind: "pool",
    change: (p) => (fixed(p).targetDedicatedNodes = 2),
    opts: { stack: "prod" },
    expected: [],
  },
  {
    policy: "dev-stack-spot-nodes",
    what: "a configured pattern",
    kind: "pool",
    change: (p) => (fixed(p).targetDedicatedNodes = 3),
    opts: { stack: "sbx7", config: { devStackPattern: "^sbx" } },
    expected: [
      'pool "hpc": stack "sbx7" is a development stack but asks for 3 dedicated nodes; set dedicatedNodes: 0 and use spotNodes (hpc-batch:pool) instead, which cost a fraction as much.',
    ],
  },
  // required-tags
  {
    policy: "required-tags",
    what: "no tags",
    kind: "storageAccount",
    change: (p) => delete p.tags,
    expected: [
      'storage account "data": tags is (unset); set tags (for example { app: "hpc-batch", stack: "dev" }) so its cost and owner can be traced.',
    ],
  },
  {
    policy: "required-tags",
    what: "only empty tags",
    kind: "resourceGroup",
    change: (p) => (p.tags = { app: "" }),
    expected: [
      'resource group "rg": tags is {"app":""}; set tags (for example { app: "hpc-batch", stack: "dev" }) so its cost and owner can be traced.',
    ],
  },
  {
    policy: "required-tags",
    what: "configured keys missing",
    kind: "batchAccount",
    change: () => undefined,
    opts: { config: { requiredKeys: ["owner", "app", "costCenter"] } },
    expected: [
      'Batch account "batch": tags lack "owner", "costCenter"; add them (required by the required-tags policy config).',
    ],
  },
];

test.each(MUTATIONS)("$policy: $what", ({ policy, kind, change, opts, expected }) => {
  expect(runPolicy(policy, kind, mutated(kind, change), opts)).toEqual(expected);
});

test("every policy has at least one mutation that it reports", () => {
  const reported = new Set(MUTATIONS.filter((m) => m.expected.length > 0).map((m) => m.policy));
  expect([...reported].sort()).toEqual(POLICIES.map((p) => p.name).sort());
});

test("every retired node agent is refused: the policy uses the stack config's list", () => {
  expect(poolRules.RETIRED_NODE_AGENTS).toBe(RETIRED_NODE_AGENTS);
  for (const agent of RETIRED_NODE_AGENTS) {
    const props = mutated("pool", (p) => (vmConfig(p).nodeAgentSkuId = agent));
    expect(runPolicy("pool-supported-node-agent", "pool", props)).toHaveLength(1);
  }
});

test.each([
  ["storage-https-only", undefined, { enforcementLevel: "mandatory", settings: {} }],
  ["storage-https-only", "disabled", { enforcementLevel: "disabled", settings: {} }],
  ["pool-max-nodes", undefined, { enforcementLevel: "mandatory", settings: { maxNodes: 50 } }],
  [
    "pool-max-nodes",
    { enforcementLevel: "advisory", maxNodes: 8 },
    { enforcementLevel: "advisory", settings: { maxNodes: 8 } },
  ],
  ["required-tags", {}, { enforcementLevel: "advisory", settings: { requiredKeys: [] } }],
] as const)("resolvePolicyConfig(%s, %j) = %j", (name, entry, expected) => {
  const policy = POLICIES.find((p) => p.name === name)!;
  expect(resolvePolicyConfig(policy, entry as PolicyPackConfig[string])).toEqual(expected);
});

test.each([
  [
    "pool-max-nodes",
    { maxNode: 10 },
    `policy config pool-max-nodes "maxNode" is invalid: must be one of this policy's settings: enforcementLevel, maxNodes`,
  ],
  [
    "pool-max-nodes",
    { maxNodes: 0 },
    "policy config pool-max-nodes.maxNodes 0 is invalid: must be an integer of at least 1",
  ],
  [
    "pool-max-nodes",
    { maxNodes: "20" },
    'policy config pool-max-nodes.maxNodes "20" is invalid: must be an integer',
  ],
  [
    "pool-max-nodes",
    "warn",
    'policy config pool-max-nodes.enforcementLevel "warn" is invalid: must be one of advisory, mandatory, remediate, disabled',
  ],
  [
    "dev-stack-spot-nodes",
    { devStackPattern: "(dev" },
    'policy config dev-stack-spot-nodes.devStackPattern "(dev" is invalid: must be a valid regular expression',
  ],
  [
    "required-tags",
    { requiredKeys: "owner" },
    'policy config required-tags.requiredKeys "owner" is invalid: must be an array of non-empty strings',
  ],
  [
    "required-tags",
    { requiredKeys: [""] },
    'policy config required-tags.requiredKeys [""] is invalid: must be an array of non-empty strings',
  ],
])("resolvePolicyConfig(%s, %j) throws %s", (name, entry, message) => {
  const policy = POLICIES.find((p) => p.name === name)!;
  expect(() => resolvePolicyConfig(policy, entry as PolicyPackConfig[string])).toThrow(message);
});

test.each([
  ["azure-native:storage:StorageAccount", "azure-native:storage:StorageAccount"],
  ["azure-native:storage/v20230101:StorageAccount", "azure-native:storage:StorageAccount"],
  ["azure-native:batch/v20240701preview:Pool", "azure-native:batch:Pool"],
  ["pulumi-nodejs:dynamic:Resource", "pulumi-nodejs:dynamic:Resource"],
])("baseType(%s) = %s", (type, expected) => {
  expect(baseType(type)).toBe(expected);
});

test.each([
  ["urn:pulumi:dev::hpc-batch::azure-native:batch:Pool::hpc", "dev"],
  [
    "urn:pulumi:alice-test::hpc-batch::hpc-batch:batch:BatchPool$azure-native:batch:Pool::x",
    "alice-test",
  ],
  ["not-a-urn", ""],
])("stackOfUrn(%s) = %j", (urn, expected) => {
  expect(stackOfUrn(urn)).toBe(expected);
});
