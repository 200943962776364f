/**
 * The bootstrap stack (bootstrap/index.ts) run under bootstrap/Pulumi.example.yaml's config: what an
 * administrator gets from `pulumi up`, and that the example file itself is a working config.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { simulate, unwrap } from "../helpers";

const SUB = "00000000-0000-0000-0000-0000000000aa";
const TENANT = "00000000-0000-0000-0000-0000000000bb";
const ADMIN = "00000000-0000-0000-0000-0000000000ad";
const example = parse(
  fs.readFileSync(path.join(__dirname, "../../bootstrap/Pulumi.example.yaml"), "utf8"),
) as { config: Record<string, unknown> };

const sim = simulate({
  project: "hpc-batch-bootstrap",
  stack: "example",
  config: example.config,
  call: ({ token }) => {
    if (token === "azure-native:authorization:getClientConfig") {
      return { clientId: "admin-client", objectId: ADMIN, subscriptionId: SUB, tenantId: TENANT };
    }
    throw new Error(`unexpected invoke ${token}`);
  },
  id: ({ type, name, inputs }) => {
    const rg = `/subscriptions/${SUB}/resourceGroups/hpc-batch-ops/providers`;
    switch (type) {
      case "azure-native:storage:StorageAccount":
        return `${rg}/Microsoft.Storage/storageAccounts/${inputs.accountName}`;
      case "azure-native:storage:BlobContainer":
        return `${rg}/Microsoft.Storage/storageAccounts/contosohpcstate/blobServices/default/containers/${inputs.containerName}`;
      case "azure-native:keyvault:Key":
        return `${rg}/Microsoft.KeyVault/vaults/contoso-hpc-secrets/keys/${inputs.keyName}`;
      default:
        return `${name}-id`;
    }
  },
  state: ({ type, name, inputs }) => {
    if (type === "azuread:index/application:Application") return { clientId: `${name}-client` };
    if (type === "azuread:index/servicePrincipal:ServicePrincipal")
      return { objectId: `${name}-oid` };
    if (type === "azure-native:resources:ResourceGroup") return { name: inputs.resourceGroupName };
    if (type === "azure-native:storage:StorageAccount") return { name: inputs.accountName };
    if (type === "azure-native:storage:BlobContainer") return { name: inputs.containerName };
    if (type === "azure-native:keyvault:Vault") return { name: inputs.vaultName };
    if (type === "azure-native:keyvault:Key") return { name: inputs.keyName };
    return {};
  },
});

// eslint-disable-next-line @typescript-eslint/no-require-imports
const program = require("../../bootstrap/index") as Record<string, unknown>;

const STATE_ID = `/subscriptions/${SUB}/resourceGroups/hpc-batch-ops/providers/Microsoft.Storage/storageAccounts/contosohpcstate`;
const CONTAINER_ID = `${STATE_ID}/blobServices/default/containers/pulumi-state`;
const KEY_ID = `/subscriptions/${SUB}/resourceGroups/hpc-batch-ops/providers/Microsoft.KeyVault/vaults/contoso-hpc-secrets/keys/pulumi-secrets`;

beforeAll(() => sim.settle());

test("registers the ops group, the state storage, the key, two identities and the lock", () => {
  const top = sim.registrations
    .filter((r) => r.parent === undefined)
    .map((r) => `${r.type}/${r.name}`)
    .sort();
  expect(top).toEqual(
    [
      "azure-native:authorization:ManagementLockByScope/state",
      "azure-native:authorization:RoleAssignment/admin-secrets-self",
      "azure-native:authorization:RoleAssignment/admin-state-self",
      "azure-native:keyvault:Key/pulumi-secrets",
      "azure-native:keyvault:Vault/secrets",
      "azure-native:resources:ResourceGroup/ops",
      "azure-native:storage:BlobContainer/state",
      "azure-native:storage:BlobServiceProperties/state",
      "azure-native:storage:StorageAccount/state",
      "hpc-batch:identity:PipelineIdentity/hpc-batch-deploy",
      "hpc-batch:identity:PipelineIdentity/hpc-batch-preview",
    ].sort(),
  );
});

test("each identity's children sit directly under it, at URNs unchanged since they were first deployed", () => {
  // A changed URN is a delete + create of an app registration or role assignment: these are the
  // URNs the identities' children have always had (their parent has always been the component).
  const urn = (type: string, name: string) =>
    `urn:pulumi:example::hpc-batch-bootstrap::hpc-batch:identity:PipelineIdentity$${type}::${name}`;
  const children = (component: string) => {
    const parent = sim.find("hpc-batch:identity:PipelineIdentity", component).urn;
    return sim.registrations
      .filter((r) => r.parent === parent)
      .map((r) => r.urn)
      .sort();
  };
  const app = "azuread:index/application:Application";
  const sp = "azuread:index/servicePrincipal:ServicePrincipal";
  const fic =
    "azuread:index/applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential";
  const ra = "azure-native:authorization:RoleAssignment";
  expect(children("hpc-batch-deploy")).toEqual(
    [
      urn(app, "hpc-batch-deploy-app"),
      urn(sp, "hpc-batch-deploy-sp"),
      urn(fic, "hpc-batch-deploy-azdo-main"),
      urn(fic, "hpc-batch-deploy-github-dev"),
      urn(fic, "hpc-batch-deploy-github-prod"),
      urn("azure-native:authorization:RoleDefinition", "hpc-batch-deploy-deployer"),
      urn(ra, "hpc-batch-deploy-deploy-subscription"),
      urn(ra, "hpc-batch-deploy-rbac-subscription"),
      urn(ra, "hpc-batch-deploy-secrets-pulumi"),
      urn(ra, "hpc-batch-deploy-state-state"),
    ].sort(),
  );
  expect(children("hpc-batch-preview")).toEqual(
    [
      urn(app, "hpc-batch-preview-app"),
      urn(sp, "hpc-batch-preview-sp"),
      urn(fic, "hpc-batch-preview-github-pr"),
      urn(ra, "hpc-batch-preview-read-subscription"),
      urn(ra, "hpc-batch-preview-secrets-pulumi"),
      urn(ra, "hpc-batch-preview-state-state"),
    ].sort(),
  );
  // Nothing else is nested: every other resource is directly under the stack.
  expect(sim.registrations.filter((r) => r.parent !== undefined).length).toBe(16);
});

test("the state account is Entra-only, private, TLS 1.2, versioned, and locked against deletion", () => {
  expect(sim.find("azure-native:storage:StorageAccount", "state").inputs).toEqual({
    accountName: "contosohpcstate",
    resourceGroupName: "hpc-batch-ops",
    location: "westeurope",
    kind: "StorageV2",
    sku: { name: "Standard_GRS" },
    minimumTlsVersion: "TLS1_2",
    enableHttpsTrafficOnly: true,
    allowBlobPublicAccess: false,
    allowSharedKeyAccess: false,
    defaultToOAuthAuthentication: true,
    tags: { "hpc-batch": "ops" },
  });
  expect(sim.find("azure-native:storage:BlobServiceProperties", "state").inputs).toEqual({
    accountName: "contosohpcstate",
    resourceGroupName: "hpc-batch-ops",
    blobServicesName: "default",
    isVersioningEnabled: true,
    deleteRetentionPolicy: { enabled: true, days: 30 },
    containerDeleteRetentionPolicy: { enabled: true, days: 30 },
  });
  expect(sim.find("azure-native:storage:BlobContainer", "state").inputs).toEqual({
    accountName: "contosohpcstate",
    resourceGroupName: "hpc-batch-ops",
    containerName: "pulumi-state",
    publicAccess: "None",
  });
  const lock = sim.find("azure-native:authorization:ManagementLockByScope", "state");
  expect(lock.inputs).toEqual({
    scope: STATE_ID,
    lockName: "hpc-batch-state-no-delete",
    level: "CanNotDelete",
    notes: "Holds the Pulumi state of every hpc-batch stack. Remove only to retire hpc-batch.",
  });
  // Created after the container and every role assignment, so `pulumi destroy` removes it first.
  const mustPrecede = [
    sim.find("azure-native:storage:BlobContainer", "state").urn,
    ...sim.ofType("azure-native:authorization:RoleAssignment").map((r) => r.urn),
  ];
  expect(lock.options.dependsOn).toEqual(expect.arrayContaining(mustPrecede));
});

test("the secrets key lives in an RBAC vault with purge protection", () => {
  expect(sim.find("azure-native:keyvault:Vault", "secrets").inputs).toEqual({
    vaultName: "contoso-hpc-secrets",
    resourceGroupName: "hpc-batch-ops",
    location: "westeurope",
    properties: {
      tenantId: TENANT,
      sku: { family: "A", name: "standard" },
      enableRbacAuthorization: true,
      enableSoftDelete: true,
      softDeleteRetentionInDays: 90,
      enablePurgeProtection: true,
      // The SDK's documented defaults, sent as they are.
      enabledForDeployment: false,
      enabledForDiskEncryption: false,
      enabledForTemplateDeployment: false,
      publicNetworkAccess: "enabled",
    },
    tags: { "hpc-batch": "ops" },
  });
  expect(sim.find("azure-native:keyvault:Key", "pulumi-secrets").inputs).toEqual({
    vaultName: "contoso-hpc-secrets",
    resourceGroupName: "hpc-batch-ops",
    keyName: "pulumi-secrets",
    properties: { kty: "RSA", keySize: 3072, keyOps: ["encrypt", "decrypt"] },
    tags: { "hpc-batch": "ops" },
  });
});

test("the deploy identity trusts dev, prod and Azure DevOps; the preview one pull requests", () => {
  const subjects = (component: string) => {
    const parent = sim.find("hpc-batch:identity:PipelineIdentity", component).urn;
    return sim.registrations
      .filter((r) => r.parent === parent && r.type.includes("FederatedIdentityCredential"))
      .map((r) => r.inputs.subject)
      .sort();
  };
  expect(subjects("hpc-batch-deploy")).toEqual([
    (
      example.config["hpc-batch-bootstrap:azureDevOpsConnections"] as Record<
        string,
        { subject: string }
      >
    ).main.subject,
    "repo:contoso/hpc-batch:environment:dev",
    "repo:contoso/hpc-batch:environment:prod",
  ]);
  expect(subjects("hpc-batch-preview")).toEqual(["repo:contoso/hpc-batch:pull_request"]);
  const scopes = (component: string) => {
    const parent = sim.find("hpc-batch:identity:PipelineIdentity", component).urn;
    return sim.registrations
      .filter((r) => r.parent === parent && r.type === "azure-native:authorization:RoleAssignment")
      .map((r) => `${r.name} ${r.inputs.scope}`)
      .sort();
  };
  expect(scopes("hpc-batch-deploy")).toEqual([
    `hpc-batch-deploy-deploy-subscription /subscriptions/${SUB}`,
    `hpc-batch-deploy-rbac-subscription /subscriptions/${SUB}`,
    `hpc-batch-deploy-secrets-pulumi ${KEY_ID}`,
    `hpc-batch-deploy-state-state ${CONTAINER_ID}`,
  ]);
  expect(scopes("hpc-batch-preview")).toEqual([
    `hpc-batch-preview-read-subscription /subscriptions/${SUB}`,
    `hpc-batch-preview-secrets-pulumi ${KEY_ID}`,
    `hpc-batch-preview-state-state ${CONTAINER_ID}`,
  ]);
});

test("the administrator running it may use the state and the key by hand", () => {
  const admin = sim.find("azure-native:authorization:RoleAssignment", "admin-state-self").inputs;
  expect(admin.principalId).toBe(ADMIN);
  expect(admin.principalType).toBe("User"); // said explicitly: Azure refuses a mismatch
  expect(admin.scope).toBe(CONTAINER_ID);
  expect(admin.roleDefinitionId).toBe(
    `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe`,
  );
  expect(
    sim.find("azure-native:authorization:RoleAssignment", "admin-secrets-self").inputs
      .roleDefinitionId,
  ).toBe(
    `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/12338af0-0e69-4776-bea7-57ae8d297424`,
  );
});

test("exports exactly the non-secret values the pipelines' variables need", async () => {
  expect(await unwrap(program.githubVariables as object)).toEqual({
    AZURE_CLIENT_ID: "hpc-batch-deploy-app-client",
    AZURE_PREVIEW_CLIENT_ID: "hpc-batch-preview-app-client",
    AZURE_TENANT_ID: TENANT,
    AZURE_SUBSCRIPTION_ID: SUB,
    PULUMI_BACKEND_URL: "azblob://pulumi-state?storage_account=contosohpcstate",
    PULUMI_SECRETS_PROVIDER:
      "azurekeyvault://contoso-hpc-secrets.vault.azure.net/keys/pulumi-secrets",
  });
  expect(sim.registrations.every((r) => r.secretInputs.length === 0)).toBe(true);
});
