/**
 * `evaluatePolicies` over what `simulate` records from a small program of raw azure-native
 * resources: one compliant set and one insecure set, so the test sees real registered inputs
 * (including the defaults azure-native fills in, such as autoStorage.authenticationMode).
 */
import * as pulumi from "@pulumi/pulumi";
import { simulate, type Registration } from "../helpers";
import { evaluatePolicies } from "../../policy/runner";
import { UBUNTU_2404_IMAGE } from "../support/expectedPool";

const sim = simulate({ project: "hpc-batch", stack: "dev" });

// Imported after simulate() so the resources register with the simulated engine.
/* eslint-disable @typescript-eslint/no-require-imports */
const storage =
  require("@pulumi/azure-native/storage") as typeof import("@pulumi/azure-native/storage");
const batch = require("@pulumi/azure-native/batch") as typeof import("@pulumi/azure-native/batch");
/* eslint-enable @typescript-eslint/no-require-imports */

const TAGS = { app: "hpc-batch", stack: "dev" };

/** A dynamic resource shaped like the application package one (its inputs carry allowUpdates). */
class ApplicationPackage extends pulumi.dynamic.Resource {
  constructor(
    name: string,
    props: { applicationId: string; version: string; allowUpdates: boolean },
  ) {
    const provider: pulumi.dynamic.ResourceProvider = {
      async create(inputs) {
        return { id: name, outs: inputs };
      },
    };
    super(provider, name, props);
  }
}

/** A program with a compliant and an insecure variant of each resource the policies check. */
function program(): void {
  const good = new storage.StorageAccount("good", {
    resourceGroupName: "rg",
    kind: "StorageV2",
    sku: { name: "Standard_LRS" },
    minimumTlsVersion: "TLS1_2",
    enableHttpsTrafficOnly: true,
    allowBlobPublicAccess: false,
    allowSharedKeyAccess: false,
    tags: TAGS,
  });
  new storage.StorageAccount("bad", {
    resourceGroupName: "rg",
    kind: "StorageV2",
    sku: { name: "Standard_LRS" },
    minimumTlsVersion: "TLS1_0",
    enableHttpsTrafficOnly: true,
    allowBlobPublicAccess: false,
    allowSharedKeyAccess: false,
    tags: TAGS,
  });
  new batch.BatchAccount("good", {
    resourceGroupName: "rg",
    poolAllocationMode: "BatchService",
    allowedAuthenticationModes: ["AAD"],
    identity: { type: "UserAssigned", userAssignedIdentities: ["/id"] },
    autoStorage: {
      storageAccountId: good.id,
      authenticationMode: "BatchAccountManagedIdentity",
      nodeIdentityReference: { resourceId: "/id" },
    },
    tags: TAGS,
  });
  new batch.BatchAccount("bad", {
    resourceGroupName: "rg",
    allowedAuthenticationModes: ["AAD", "SharedKey"],
    autoStorage: { storageAccountId: good.id }, // azure-native fills in "StorageKeys"
    tags: TAGS,
  });
  const pool = (name: string, agent: string, dedicated: number, spot: number) =>
    new batch.Pool(name, {
      accountName: "batch",
      resourceGroupName: "rg",
      vmSize: "Standard_D2s_v5",
      deploymentConfiguration: {
        virtualMachineConfiguration: { imageReference: UBUNTU_2404_IMAGE, nodeAgentSkuId: agent },
      },
      targetNodeCommunicationMode: "Simplified",
      scaleSettings: {
        fixedScale: { targetDedicatedNodes: dedicated, targetLowPriorityNodes: spot },
      },
    });
  pool("good", "batch.node.ubuntu 24.04", 0, 2);
  pool("bad", "batch.node.ubuntu 20.04", 30, 30);
  new batch.Application("good", {
    accountName: "batch",
    resourceGroupName: "rg",
    allowUpdates: false,
  });
  new batch.Application("bad", { accountName: "batch", resourceGroupName: "rg" });
  new ApplicationPackage("pkg-good", {
    applicationId: "ffmpeg",
    version: "1.0.0",
    allowUpdates: false,
  });
  new ApplicationPackage("pkg-bad", {
    applicationId: "ffmpeg",
    version: "1.0.1",
    allowUpdates: true,
  });
}

let regs: Registration[];
beforeAll(async () => {
  program();
  await sim.settle();
  regs = sim.registrations;
});

const urn = (type: string, name: string) => `urn:pulumi:dev::hpc-batch::${type}::${name}`;
const STORAGE_BAD = urn("azure-native:storage:StorageAccount", "bad");
const BATCH_BAD = urn("azure-native:batch:BatchAccount", "bad");
const POOL_BAD = urn("azure-native:batch:Pool", "bad");
const APP_BAD = urn("azure-native:batch:Application", "bad");
const PKG_BAD = urn("pulumi-nodejs:dynamic:Resource", "pkg-bad");

const SUPPORTED =
  'use imageReference { publisher: "canonical", offer: "ubuntu-24_04-lts", sku: "server" } ' +
  'with nodeAgentSkuId: "batch.node.ubuntu 24.04".';

/** What the insecure half of the program violates with the default config: by URN, then policy. */
const DEFAULT_VIOLATIONS = [
  {
    policy: "application-no-updates",
    level: "mandatory",
    urn: APP_BAD,
    message:
      'application "bad": allowUpdates is (unset); set allowUpdates: false so a published package version can never be overwritten in place.',
  },
  {
    policy: "batch-entra-only-auth",
    level: "mandatory",
    urn: BATCH_BAD,
    message:
      'Batch account "bad": allowedAuthenticationModes is ["AAD","SharedKey"]; set allowedAuthenticationModes: ["AAD"] so the Batch API accepts only Microsoft Entra ID tokens (no shared keys).',
  },
  {
    policy: "batch-auto-storage-managed-identity",
    level: "mandatory",
    urn: BATCH_BAD,
    message:
      'Batch account "bad": autoStorage.authenticationMode is "StorageKeys"; set autoStorage.authenticationMode: "BatchAccountManagedIdentity" so Batch reaches the storage account with its managed identity instead of the account keys.',
  },
  {
    policy: "pool-supported-node-agent",
    level: "mandatory",
    urn: POOL_BAD,
    message: `pool "bad": nodeAgentSkuId "batch.node.ubuntu 20.04" is retired by Azure Batch (no new nodes, no support); ${SUPPORTED}`,
  },
  {
    policy: "pool-max-nodes",
    level: "mandatory",
    urn: POOL_BAD,
    message:
      'pool "bad": fixedScale asks for 60 nodes (30 dedicated + 30 Spot), more than the cap of 50 per pool; lower dedicatedNodes or spotNodes (hpc-batch:pool), or raise maxNodes in the pool-max-nodes policy config.',
  },
  {
    policy: "dev-stack-spot-nodes",
    level: "advisory",
    urn: POOL_BAD,
    message:
      'pool "bad": stack "dev" is a development stack but asks for 30 dedicated nodes; set dedicatedNodes: 0 and use spotNodes (hpc-batch:pool) instead, which cost a fraction as much.',
  },
  {
    policy: "storage-minimum-tls-1-2",
    level: "mandatory",
    urn: STORAGE_BAD,
    message:
      'storage account "bad": minimumTlsVersion is "TLS1_0"; set minimumTlsVersion: "TLS1_2" so clients cannot fall back to TLS 1.0 or 1.1.',
  },
  {
    policy: "application-no-updates",
    level: "mandatory",
    urn: PKG_BAD,
    message:
      'application package "pkg-bad": allowUpdates is true; set allowUpdates: false so a published package version can never be overwritten in place.',
  },
];

test("the program registered what the policies see", () => {
  expect(regs.map((r) => `${r.type}/${r.name}`).sort()).toEqual([
    "azure-native:batch:Application/bad",
    "azure-native:batch:Application/good",
    "azure-native:batch:BatchAccount/bad",
    "azure-native:batch:BatchAccount/good",
    "azure-native:batch:Pool/bad",
    "azure-native:batch:Pool/good",
    "azure-native:storage:StorageAccount/bad",
    "azure-native:storage:StorageAccount/good",
    "pulumi-nodejs:dynamic:Resource/pkg-bad",
    "pulumi-nodejs:dynamic:Resource/pkg-good",
  ]);
  expect(sim.find("azure-native:batch:BatchAccount", "bad").inputs.autoStorage).toEqual({
    storageAccountId: "good-id",
    authenticationMode: "StorageKeys",
  });
});

test("the default config reports every insecure resource, and only those", () => {
  expect(evaluatePolicies(regs, { stack: "dev" })).toEqual({ violations: DEFAULT_VIOLATIONS });
});

test("the stack name decides the dev-only advisory", () => {
  const { violations } = evaluatePolicies(regs, { stack: "prod" });
  expect(violations).toEqual(DEFAULT_VIOLATIONS.filter((v) => v.policy !== "dev-stack-spot-nodes"));
});

test("config disables a policy, changes a level and raises the node cap", () => {
  const { violations } = evaluatePolicies(regs, {
    stack: "dev",
    config: {
      "storage-minimum-tls-1-2": "disabled",
      "application-no-updates": { enforcementLevel: "advisory" },
      "pool-max-nodes": { maxNodes: 60 },
    },
  });
  expect(violations).toEqual(
    DEFAULT_VIOLATIONS.filter(
      (v) => v.policy !== "storage-minimum-tls-1-2" && v.policy !== "pool-max-nodes",
    ).map((v) => (v.policy === "application-no-updates" ? { ...v, level: "advisory" } : v)),
  );
});

test("required tag keys from config are checked on every top-level resource", () => {
  const { violations } = evaluatePolicies(regs, {
    stack: "dev",
    config: { "required-tags": { requiredKeys: ["owner"] } },
  });
  const lacksOwner = (urn: string, resource: string) => ({
    policy: "required-tags",
    level: "advisory",
    urn,
    message: `${resource}: tags lack "owner"; add them (required by the required-tags policy config).`,
  });
  expect(violations.filter((v) => v.policy === "required-tags")).toEqual([
    lacksOwner(BATCH_BAD, 'Batch account "bad"'),
    lacksOwner(urn("azure-native:batch:BatchAccount", "good"), 'Batch account "good"'),
    lacksOwner(STORAGE_BAD, 'storage account "bad"'),
    lacksOwner(urn("azure-native:storage:StorageAccount", "good"), 'storage account "good"'),
  ]);
});

test.each([
  [
    { "pool-max-node": { maxNodes: 10 } },
    'policy config "pool-max-node" is invalid: must name a policy of the pack: storage-https-only, storage-minimum-tls-1-2, storage-no-public-blob-access, storage-no-shared-key, batch-entra-only-auth, batch-auto-storage-managed-identity, pool-supported-node-agent, pool-simplified-node-communication, pool-max-nodes, application-no-updates, role-assignment-scope, dev-stack-spot-nodes, required-tags',
  ],
  [
    { "pool-max-nodes": { maxNodes: -1 } },
    "policy config pool-max-nodes.maxNodes -1 is invalid: must be an integer of at least 1",
  ],
])("a bad config %j is refused before any check runs", (config, message) => {
  expect(() => evaluatePolicies(regs, { stack: "dev", config })).toThrow(message);
});

test("components and other custom resources are not applicable", () => {
  const component: Registration = {
    type: "hpc-batch:batch:BatchPool",
    name: "pool",
    urn: "urn:pulumi:dev::hpc-batch::hpc-batch:batch:BatchPool::pool",
    custom: false,
    inputs: {},
    secretInputs: [],
    options: {
      dependsOn: [],
      replaceOnChanges: [],
      ignoreChanges: [],
      additionalSecretOutputs: [],
      deleteBeforeReplace: false,
    },
  };
  expect(evaluatePolicies([component], { stack: "dev" })).toEqual({ violations: [] });
});
