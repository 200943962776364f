/**
 * What the tests expect of every Batch pool hpc-batch declares, written out once (not read from
 * components/pool.ts, so a change there still fails the tests that pin it).
 */

/** The default image: Ubuntu 24.04 LTS. */
export const UBUNTU_2404_IMAGE = {
  publisher: "canonical",
  offer: "ubuntu-24_04-lts",
  sku: "server",
  version: "latest",
};

/** The default image with its node agent, as the pool's `deploymentConfiguration`. */
export const UBUNTU_2404_DEPLOYMENT = {
  virtualMachineConfiguration: {
    imageReference: UBUNTU_2404_IMAGE,
    nodeAgentSkuId: "batch.node.ubuntu 24.04",
  },
};

/** The azure-native pool's `replaceOnChanges`: what Batch cannot change on a pool with nodes. */
export const POOL_REPLACE_ON_CHANGES = [
  "vmSize",
  "deploymentConfiguration",
  "networkConfiguration",
  "taskSlotsPerNode",
  "userAccounts",
  "mountConfiguration",
  "interNodeCommunication",
  "identity",
  "targetNodeCommunicationMode",
];

/** The azure-native pool's `ignoreChanges`: changed by the settings resource (PATCH), never PUT. */
export const POOL_IGNORE_CHANGES = ["scaleSettings", "startTask", "applicationPackages", "tags"];
