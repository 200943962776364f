import { roleAssignmentName } from "../../lib/core/naming";
import { BUILT_IN_ROLES as CORE_BUILT_IN_ROLES } from "../../lib/core/roles";
import { simulate, unwrap, type Registration } from "../helpers";

const SUB = "00000000-0000-0000-0000-0000000000aa";
const TENANT = "00000000-0000-0000-0000-0000000000bb";
const APP_OBJECT_ID = "00000000-0000-0000-0000-0000000000cc";
const CLIENT_ID = "00000000-0000-0000-0000-0000000000dd";
const SP_OBJECT_ID = "00000000-0000-0000-0000-0000000000ee";
const SCOPE_SUB = `/subscriptions/${SUB}`;
const STATE = `${SCOPE_SUB}/resourceGroups/ops/providers/Microsoft.Storage/storageAccounts/state/blobServices/default/containers/pulumi-state`;
const KEY = `${SCOPE_SUB}/resourceGroups/ops/providers/Microsoft.KeyVault/vaults/kv/keys/pulumi`;
const RG_DEV = `${SCOPE_SUB}/resourceGroups/hpc-dev`;
const RG_PROD = `${SCOPE_SUB}/resourceGroups/hpc-prod`;
const ADO_ISSUER = `https://login.microsoftonline.com/${TENANT}/v2.0`;
const ADO_SUBJECT = "/eid1/c/pub/t/abc/a/def/sc/org-id/connection-id";

const sim = simulate({
  project: "hpc-batch",
  stack: "test",
  call: ({ token }) => {
    if (token === "azure-native:authorization:getClientConfig") {
      return { clientId: "admin", objectId: "admin-object", subscriptionId: SUB, tenantId: TENANT };
    }
    throw new Error(`unexpected invoke ${token}`);
  },
  id: ({ type, name, inputs }) => {
    if (type === "azuread:index/application:Application") return `/applications/${APP_OBJECT_ID}`;
    if (type === "azure-native:authorization:RoleDefinition") {
      return `${SCOPE_SUB}/providers/Microsoft.Authorization/roleDefinitions/${inputs.roleDefinitionId}`;
    }
    return `${name}-id`;
  },
  state: ({ type }) => {
    if (type === "azuread:index/application:Application") {
      return { clientId: CLIENT_ID, objectId: APP_OBJECT_ID };
    }
    if (type === "azuread:index/servicePrincipal:ServicePrincipal")
      return { objectId: SP_OBJECT_ID };
    return {};
  },
});

// Import after simulate(): the component captures the runtime settings when it registers.
import { Provider as EntraProvider } from "@pulumi/azuread/provider";
import { Provider as ArmProvider } from "@pulumi/azure-native/provider";
import {
  BUILT_IN_ROLES,
  DEPLOYER_PERMISSIONS,
  GITHUB_ISSUER,
  PipelineIdentity,
  TOKEN_EXCHANGE_AUDIENCE,
  delegationCondition,
  deployerRoleGuid,
} from "../../components/pipelineIdentity";

const T = {
  component: "hpc-batch:identity:PipelineIdentity",
  app: "azuread:index/application:Application",
  sp: "azuread:index/servicePrincipal:ServicePrincipal",
  fic: "azuread:index/applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential",
  roleDef: "azure-native:authorization:RoleDefinition",
  roleAssignment: "azure-native:authorization:RoleAssignment",
};

const roleId = (guid: string) =>
  `${SCOPE_SUB}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;
const DEPLOYER_GUID = deployerRoleGuid(SCOPE_SUB, "hpc-batch-deploy");

/** What one role assignment must look like: the name derives from scope, principal and role. */
function assignment(scope: string, roleGuid: string, description: string) {
  return {
    roleAssignmentName: roleAssignmentName(scope, SP_OBJECT_ID, roleGuid),
    scope,
    principalId: SP_OBJECT_ID,
    principalType: "ServicePrincipal",
    roleDefinitionId: roleId(roleGuid),
    description,
  };
}

/** `type/name` of every child registered under the component, sorted. */
function children(component: Registration): string[] {
  return sim.registrations
    .filter((r) => r.parent === component.urn)
    .map((r) => `${r.type}/${r.name}`)
    .sort();
}

describe("PipelineIdentity (deploy)", () => {
  let identity: PipelineIdentity;
  beforeAll(async () => {
    identity = new PipelineIdentity("deploy", {
      displayName: "hpc-batch-deploy",
      owners: ["owner-object-id"],
      githubRepository: "contoso/hpc-batch",
      githubEnvironments: ["dev", "prod"],
      azureDevOpsConnections: { main: { issuer: ADO_ISSUER, subject: ADO_SUBJECT } },
      stateScopes: { state: STATE },
      secretsKeyScopes: { pulumi: KEY },
    });
    await sim.settle();
  });

  test("registers exactly the app, its principal, three credentials, a custom role and five assignments", () => {
    const comp = sim.find(T.component, "deploy");
    expect(comp.custom).toBe(false);
    expect(comp.parent).toBeUndefined(); // directly under the stack
    expect(children(comp)).toEqual(
      [
        `${T.app}/deploy-app`,
        `${T.fic}/deploy-azdo-main`,
        `${T.fic}/deploy-github-dev`,
        `${T.fic}/deploy-github-prod`,
        `${T.roleAssignment}/deploy-deploy-subscription`,
        `${T.roleAssignment}/deploy-rbac-subscription`,
        `${T.roleAssignment}/deploy-secrets-pulumi`,
        `${T.roleAssignment}/deploy-state-state`,
        `${T.roleDef}/deploy-deployer`,
        `${T.sp}/deploy-sp`,
      ].sort(),
    );
  });

  test("every child sits directly under the component, at the URN it had before the folder split", () => {
    // The children always had the component as parent (the caller's options were merged under
    // `parent: this`): same URNs, so an existing stack sees no delete + create and needs no alias.
    const comp = sim.find(T.component, "deploy");
    expect(comp.urn).toBe(
      "urn:pulumi:test::hpc-batch::hpc-batch:identity:PipelineIdentity::deploy",
    );
    const under = (type: string, name: string) =>
      `urn:pulumi:test::hpc-batch::hpc-batch:identity:PipelineIdentity$${type}::${name}`;
    expect(
      sim.registrations
        .filter((r) => r.parent === comp.urn)
        .map((r) => r.urn)
        .sort(),
    ).toEqual(
      [
        under(T.app, "deploy-app"),
        under(T.fic, "deploy-azdo-main"),
        under(T.fic, "deploy-github-dev"),
        under(T.fic, "deploy-github-prod"),
        under(T.roleAssignment, "deploy-deploy-subscription"),
        under(T.roleAssignment, "deploy-rbac-subscription"),
        under(T.roleAssignment, "deploy-secrets-pulumi"),
        under(T.roleAssignment, "deploy-state-state"),
        under(T.roleDef, "deploy-deployer"),
        under(T.sp, "deploy-sp"),
      ].sort(),
    );
  });

  test("exposes its application and service principal", async () => {
    expect(await unwrap(identity.application.urn)).toBe(sim.find(T.app, "deploy-app").urn);
    expect(await unwrap(identity.servicePrincipal.urn)).toBe(sim.find(T.sp, "deploy-sp").urn);
    expect(await unwrap(identity.application.clientId)).toBe(CLIENT_ID);
    expect(await unwrap(identity.servicePrincipal.objectId)).toBe(SP_OBJECT_ID);
  });

  test("the application and service principal carry no password, key or certificate", () => {
    expect(sim.find(T.app, "deploy-app").inputs).toEqual({
      displayName: "hpc-batch-deploy",
      description:
        "Keyless deploy identity of the hpc-batch release pipelines (federated credentials only)",
      signInAudience: "AzureADMyOrg",
      owners: ["owner-object-id"],
      preventDuplicateNames: true,
    });
    expect(sim.find(T.sp, "deploy-sp").inputs).toEqual({
      clientId: CLIENT_ID,
      owners: ["owner-object-id"],
      appRoleAssignmentRequired: false,
    });
    const secretish = sim.registrations.filter(
      (r) =>
        /password|certificate|secret/i.test(r.type) ||
        Object.keys(r.inputs).some((k) => /password|keyCredential|secret/i.test(k)),
    );
    expect(secretish).toEqual([]);
  });

  test("federated credentials: GitHub environments and the Azure DevOps connection", () => {
    const appId = `/applications/${APP_OBJECT_ID}`;
    expect(sim.find(T.fic, "deploy-github-dev").inputs).toEqual({
      applicationId: appId,
      displayName: "github-env-dev",
      description: "GitHub Actions jobs in environment dev of contoso/hpc-batch",
      issuer: "https://token.actions.githubusercontent.com",
      subject: "repo:contoso/hpc-batch:environment:dev",
      audiences: ["api://AzureADTokenExchange"],
    });
    expect(sim.find(T.fic, "deploy-github-prod").inputs).toEqual({
      applicationId: appId,
      displayName: "github-env-prod",
      description: "GitHub Actions jobs in environment prod of contoso/hpc-batch",
      issuer: GITHUB_ISSUER,
      subject: "repo:contoso/hpc-batch:environment:prod",
      audiences: [TOKEN_EXCHANGE_AUDIENCE],
    });
    expect(sim.find(T.fic, "deploy-azdo-main").inputs).toEqual({
      applicationId: appId,
      displayName: "azure-devops-main",
      description: 'Azure DevOps workload-identity service connection "main"',
      issuer: ADO_ISSUER,
      subject: ADO_SUBJECT,
      audiences: [TOKEN_EXCHANGE_AUDIENCE],
    });
  });

  test("the deployer custom role: the stack's resource types, no RG delete, no keys or SAS", () => {
    expect(sim.find(T.roleDef, "deploy-deployer").inputs).toEqual({
      roleDefinitionId: DEPLOYER_GUID,
      roleName: "hpc-batch-deploy deployer",
      description:
        "Deploys hpc-batch stacks: resource groups (no delete), storage and Batch accounts, user-assigned identities, Batch jobs; no keys or SAS",
      roleType: "CustomRole",
      scope: SCOPE_SUB,
      assignableScopes: [SCOPE_SUB],
      permissions: [
        {
          actions: DEPLOYER_PERMISSIONS.actions,
          notActions: DEPLOYER_PERMISSIONS.notActions,
          dataActions: ["Microsoft.Batch/batchAccounts/jobs/*"],
          notDataActions: [],
        },
      ],
    });
    expect(DEPLOYER_PERMISSIONS.actions).not.toContain(
      "Microsoft.Resources/subscriptions/resourceGroups/delete",
    );
    expect(
      DEPLOYER_PERMISSIONS.actions.filter((a) => a.startsWith("Microsoft.Authorization")),
    ).toEqual([
      "Microsoft.Authorization/roleAssignments/read",
      "Microsoft.Authorization/roleDefinitions/read",
    ]);
    expect(
      DEPLOYER_PERMISSIONS.actions.some((a) => a.includes("federatedIdentityCredentials")),
    ).toBe(false);
  });

  test("role assignments: exact roles, scopes, deterministic names, a condition on RBAC admin", () => {
    expect(sim.find(T.roleAssignment, "deploy-deploy-subscription").inputs).toEqual(
      assignment(SCOPE_SUB, DEPLOYER_GUID, "hpc-batch pipeline: deploy the stack"),
    );
    expect(sim.find(T.roleAssignment, "deploy-rbac-subscription").inputs).toEqual({
      ...assignment(
        SCOPE_SUB,
        "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
        "hpc-batch pipeline: grant blob data roles to the Batch identity or itself (condition-limited)",
      ),
      condition: delegationCondition(["ba92f5b4-2d11-453d-a403-e96b0029c9fe"], SP_OBJECT_ID),
      conditionVersion: "2.0",
    });
    expect(sim.find(T.roleAssignment, "deploy-state-state").inputs).toEqual(
      assignment(STATE, "ba92f5b4-2d11-453d-a403-e96b0029c9fe", "hpc-batch pipeline: Pulumi state"),
    );
    expect(sim.find(T.roleAssignment, "deploy-secrets-pulumi").inputs).toEqual(
      assignment(
        KEY,
        "12338af0-0e69-4776-bea7-57ae8d297424",
        "hpc-batch pipeline: Pulumi secrets provider key",
      ),
    );
  });

  test("outputs: client, tenant, subscription and principal ids from the app and client config", async () => {
    expect(sim.find(T.component, "deploy").outputs).toEqual({
      clientId: CLIENT_ID,
      tenantId: TENANT,
      subscriptionId: SUB,
      servicePrincipalObjectId: SP_OBJECT_ID,
    });
    expect(
      await Promise.all([
        unwrap(identity.clientId),
        unwrap(identity.tenantId),
        unwrap(identity.subscriptionId),
        unwrap(identity.servicePrincipalObjectId),
      ]),
    ).toEqual([CLIENT_ID, TENANT, SUB, SP_OBJECT_ID]);
    // Tenant and subscription come from the provider's client config, asked once per identity.
    expect(sim.invocations.map((i) => i.token)).toEqual([
      "azure-native:authorization:getClientConfig",
    ]);
  });
});

describe("PipelineIdentity (preview)", () => {
  beforeAll(async () => {
    new PipelineIdentity("preview", {
      access: "preview",
      githubRepository: "contoso/hpc-batch",
      githubPullRequests: true,
      stateScopes: { state: STATE },
      secretsKeyScopes: { pulumi: KEY },
    });
    await sim.settle();
  });

  test("pull requests only, Reader on the target, blob data Reader on state, no custom role", () => {
    const comp = sim.find(T.component, "preview");
    expect(children(comp)).toEqual(
      [
        `${T.app}/preview-app`,
        `${T.fic}/preview-github-pr`,
        `${T.roleAssignment}/preview-read-subscription`,
        `${T.roleAssignment}/preview-secrets-pulumi`,
        `${T.roleAssignment}/preview-state-state`,
        `${T.sp}/preview-sp`,
      ].sort(),
    );
    expect(sim.find(T.app, "preview-app").inputs.displayName).toBe("preview");
    expect(sim.find(T.fic, "preview-github-pr").inputs).toEqual({
      applicationId: `/applications/${APP_OBJECT_ID}`,
      displayName: "github-pull-request",
      description: "GitHub Actions pull-request workflows of contoso/hpc-batch",
      issuer: GITHUB_ISSUER,
      subject: "repo:contoso/hpc-batch:pull_request",
      audiences: [TOKEN_EXCHANGE_AUDIENCE],
    });
    expect(sim.find(T.roleAssignment, "preview-read-subscription").inputs).toEqual(
      assignment(SCOPE_SUB, BUILT_IN_ROLES.reader, "hpc-batch pipeline: preview"),
    );
    expect(sim.find(T.roleAssignment, "preview-state-state").inputs).toEqual(
      assignment(STATE, "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", "hpc-batch pipeline: Pulumi state"),
    );
  });
});

describe("PipelineIdentity (resource-group targets, explicit subscription and roles)", () => {
  beforeAll(async () => {
    new PipelineIdentity(
      "rg",
      {
        subscriptionId: SUB,
        azureDevOpsConnections: { prod: { issuer: ADO_ISSUER, subject: ADO_SUBJECT } },
        targetScopes: { dev: RG_DEV, prod: RG_PROD },
        packageScopes: { apps: RG_DEV },
        delegatableRoleIds: [
          BUILT_IN_ROLES.storageBlobDataContributor,
          BUILT_IN_ROLES.storageBlobDataReader,
        ],
      },
      { retainOnDelete: true },
    );
    await sim.settle();
  });

  test("the role is assignable only at the resource groups; two assignments per group", () => {
    const comp = sim.find(T.component, "rg");
    expect(children(comp)).toEqual(
      [
        `${T.app}/rg-app`,
        `${T.fic}/rg-azdo-prod`,
        `${T.roleAssignment}/rg-deploy-dev`,
        `${T.roleAssignment}/rg-deploy-prod`,
        `${T.roleAssignment}/rg-package-apps`,
        `${T.roleAssignment}/rg-rbac-dev`,
        `${T.roleAssignment}/rg-rbac-prod`,
        `${T.roleDef}/rg-deployer`,
        `${T.sp}/rg-sp`,
      ].sort(),
    );
    expect(sim.find(T.roleDef, "rg-deployer").inputs.assignableScopes).toEqual([RG_DEV, RG_PROD]);
    expect(sim.find(T.roleAssignment, "rg-rbac-prod").inputs.condition).toBe(
      delegationCondition(
        ["ba92f5b4-2d11-453d-a403-e96b0029c9fe", "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"],
        SP_OBJECT_ID,
      ),
    );
    expect(sim.find(T.roleAssignment, "rg-package-apps").inputs).toEqual(
      assignment(
        RG_DEV,
        "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
        "hpc-batch pipeline: upload application packages",
      ),
    );
    expect(sim.find(T.component, "rg").outputs?.subscriptionId).toBe(SUB);
  });

  test("caller options reach every child through the parent", () => {
    const comp = sim.find(T.component, "rg");
    const kids = sim.registrations.filter((r) => r.parent === comp.urn);
    expect(kids.length).toBe(9);
    for (const kid of kids) expect(kid.options.retainOnDelete).toBe(true);
  });
});

describe("PipelineIdentity (caller options inherited through the parent)", () => {
  const gh = { githubRepository: "contoso/hpc-batch", githubEnvironments: ["dev"] };
  const ENTRA = "urn:pulumi:test::hpc-batch::pulumi:providers:azuread::entra::entra-id";
  const ARM = "urn:pulumi:test::hpc-batch::pulumi:providers:azure-native::arm::arm-id";
  beforeAll(async () => {
    const entra = new EntraProvider("entra", {});
    const arm = new ArmProvider("arm", {});
    new PipelineIdentity("by-package", gh, { providers: [entra, arm] });
    new PipelineIdentity("arm-only", gh, { provider: arm });
    new PipelineIdentity("locked", gh, { protect: true });
    new PipelineIdentity("ordered", gh, { dependsOn: [new EntraProvider("gate", {})] });
    await sim.settle();
  });

  /** `name provider` of every child of a component, sorted. */
  const providers = (component: string) => {
    const comp = sim.find(T.component, component);
    return sim.registrations
      .filter((r) => r.parent === comp.urn)
      .map((r) => `${r.name} ${r.options.provider ?? "(default)"}`)
      .sort();
  };

  test("`providers` gives each child the provider of its own package", () => {
    expect(providers("by-package")).toEqual(
      [
        `by-package-app ${ENTRA}`,
        `by-package-sp ${ENTRA}`,
        `by-package-github-dev ${ENTRA}`,
        `by-package-deployer ${ARM}`,
        `by-package-deploy-subscription ${ARM}`,
        `by-package-rbac-subscription ${ARM}`,
      ].sort(),
    );
  });

  test("a single `provider` reaches only the children of its package", () => {
    expect(providers("arm-only")).toEqual(
      [
        "arm-only-app (default)",
        "arm-only-sp (default)",
        "arm-only-github-dev (default)",
        `arm-only-deployer ${ARM}`,
        `arm-only-deploy-subscription ${ARM}`,
        `arm-only-rbac-subscription ${ARM}`,
      ].sort(),
    );
  });

  test("`protect` reaches every child", () => {
    const comp = sim.find(T.component, "locked");
    const kids = sim.registrations.filter((r) => r.parent === comp.urn);
    expect(kids.map((k) => [k.name, k.options.protect]).sort()).toEqual(
      [
        ["locked-app", true],
        ["locked-deploy-subscription", true],
        ["locked-deployer", true],
        ["locked-github-dev", true],
        ["locked-rbac-subscription", true],
        ["locked-sp", true],
      ].sort(),
    );
  });
  test("`dependsOn` holds for every child (Pulumi does not pass it down through the parent)", () => {
    const GATE = "urn:pulumi:test::hpc-batch::pulumi:providers:azuread::gate";
    const kids = (component: string) => {
      const comp = sim.find(T.component, component);
      return sim.registrations.filter((r) => r.parent === comp.urn);
    };
    expect(
      kids("ordered")
        .map((k) => [k.name, k.options.dependsOn.includes(GATE)])
        .sort(),
    ).toEqual(
      [
        ["ordered-app", true],
        ["ordered-deploy-subscription", true],
        ["ordered-deployer", true],
        ["ordered-github-dev", true],
        ["ordered-rbac-subscription", true],
        ["ordered-sp", true],
      ].sort(),
    );
    expect(kids("locked").filter((k) => k.options.dependsOn.includes(GATE))).toEqual([]);
  });
});

describe("deployerRoleGuid and delegationCondition", () => {
  test("BUILT_IN_ROLES is the one table of lib/core/roles", () => {
    expect(BUILT_IN_ROLES).toBe(CORE_BUILT_IN_ROLES);
  });

  test("the custom role's GUID is stable and changes with the subscription and the name", () => {
    // Frozen: changing it replaces the role definition and every assignment of it. The value is
    // Python's uuid.uuid5(UUID(HPC_BATCH_GUID_NAMESPACE),
    //   "role-definition|/subscriptions/00000000-0000-0000-0000-0000000000aa|deployer|hpc-batch-deploy").
    expect(DEPLOYER_GUID).toBe("930c0317-283c-56d4-b8ec-be07538c1476");
    expect(deployerRoleGuid(SCOPE_SUB.toUpperCase(), "HPC-batch-deploy")).toBe(DEPLOYER_GUID);
    expect(deployerRoleGuid(`/subscriptions/${TENANT}`, "hpc-batch-deploy")).not.toBe(
      DEPLOYER_GUID,
    );
    expect(deployerRoleGuid(SCOPE_SUB, "other")).not.toBe(DEPLOYER_GUID);
  });

  test("the condition limits writes and deletes to the roles, for service principals or itself", () => {
    expect(delegationCondition(["r1", "r2"], "me")).toBe(
      [
        "(",
        " (",
        "  !(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})",
        " )",
        " OR",
        " (",
        "  @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {r1, r2}",
        "  AND",
        "  (",
        "   @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}",
        "   OR",
        "   @Request[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {me}",
        "  )",
        " )",
        ")",
        "AND",
        "(",
        " (",
        "  !(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})",
        " )",
        " OR",
        " (",
        "  @Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {r1, r2}",
        "  AND",
        "  (",
        "   @Resource[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}",
        "   OR",
        "   @Resource[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {me}",
        "  )",
        " )",
        ")",
      ].join("\n"),
    );
  });
});

describe("validation", () => {
  const gh = { githubRepository: "contoso/hpc-batch", githubEnvironments: ["dev"] };
  test.each<[string, Record<string, unknown>, string]>([
    [
      "access",
      { ...gh, access: "admin" },
      'access "admin" is invalid: must be "deploy" or "preview"',
    ],
    [
      "empty display name",
      { ...gh, displayName: " " },
      'displayName " " is invalid: must be 1 to 256 characters',
    ],
    [
      "repository without ORG/",
      { ...gh, githubRepository: "hpc-batch" },
      'githubRepository "hpc-batch" is invalid: must be ORG/REPO: a GitHub owner (letters, digits, "-") and a repository name (letters, digits, ".", "-", "_")',
    ],
    [
      "repository with a path",
      { ...gh, githubRepository: "contoso/hpc/batch" },
      'githubRepository "contoso/hpc/batch" is invalid: must be ORG/REPO: a GitHub owner (letters, digits, "-") and a repository name (letters, digits, ".", "-", "_")',
    ],
    [
      "environment with a space",
      { ...gh, githubEnvironments: ["dev", "pre prod"] },
      'githubEnvironments[1] "pre prod" is invalid: must be 1 to 100 letters, digits, "-" or "_" (it names a federated credential)',
    ],
    [
      "environments repeated ignoring case",
      { ...gh, githubEnvironments: ["prod", "Prod"] },
      'githubEnvironments ["prod","Prod"] is invalid: must not repeat a name: GitHub environment names ignore case',
    ],
    [
      "environments without a repository",
      { githubEnvironments: ["dev"] },
      "githubRepository (unset) is invalid: must be set when githubEnvironments or githubPullRequests is",
    ],
    [
      "a repository that grants nothing",
      { githubRepository: "contoso/hpc-batch" },
      "githubEnvironments [] is invalid: must name at least one environment when githubRepository is set and githubPullRequests is false",
    ],
    [
      "pull requests with deploy rights",
      { ...gh, githubPullRequests: true },
      'githubPullRequests true is invalid: must be false when access is "deploy": pull requests get a separate identity with access "preview"',
    ],
    [
      "no credential at all",
      {},
      "githubRepository (unset) is invalid: must be set, or azureDevOpsConnections must name a connection: an identity without a federated credential cannot sign in",
    ],
    [
      "Azure DevOps issuer over http",
      {
        azureDevOpsConnections: {
          main: { issuer: "http://vstoken.dev.azure.com/x", subject: "sc://o/p/c" },
        },
      },
      'azureDevOpsConnections.main.issuer "http://vstoken.dev.azure.com/x" is invalid: must be an https URL (the issuer shown on the service connection)',
    ],
    [
      "Azure DevOps empty subject",
      { azureDevOpsConnections: { main: { issuer: ADO_ISSUER, subject: "" } } },
      'azureDevOpsConnections.main.subject "" is invalid: must be 1 to 600 characters (the subject identifier shown on the service connection)',
    ],
    [
      "Azure DevOps label in capitals",
      { azureDevOpsConnections: { Main: { issuer: ADO_ISSUER, subject: "sc://o/p/c" } } },
      'azureDevOpsConnections key "Main" is invalid: must be 1 to 40 lowercase letters, digits or "-" (it names a child resource)',
    ],
    [
      "a target that is not an ARM scope",
      { ...gh, targetScopes: { dev: "hpc-dev" } },
      'targetScopes.dev "hpc-dev" is invalid: must be an Azure scope starting with /subscriptions/<subscription id>',
    ],
    [
      "no target at all",
      { ...gh, targetScopes: {} },
      "targetScopes {} is invalid: must name at least one scope (leave it unset for the whole subscription)",
    ],
    [
      "a state scope with a bad label",
      { ...gh, stateScopes: { "state scope": STATE } },
      'stateScopes key "state scope" is invalid: must be 1 to 40 lowercase letters, digits or "-" (it names a child resource)',
    ],
    [
      "package upload for a preview",
      {
        access: "preview",
        githubRepository: "contoso/hpc-batch",
        githubPullRequests: true,
        packageScopes: { apps: RG_DEV },
      },
      'packageScopes ["apps"] is invalid: must be empty when access is "preview": a preview never uploads packages',
    ],
    [
      "role delegation for a preview",
      {
        access: "preview",
        githubRepository: "contoso/hpc-batch",
        githubPullRequests: true,
        delegatableRoleIds: [BUILT_IN_ROLES.reader],
      },
      'delegatableRoleIds ["acdd72a7-3385-48ef-bd42-f606fba81ae7"] is invalid: must be unset when access is "preview": a preview never assigns roles',
    ],
    [
      "no delegatable role",
      { ...gh, delegatableRoleIds: [] },
      "delegatableRoleIds [] is invalid: must name at least one role (the stack assigns a blob data role to its Batch identity)",
    ],
    [
      "a role name instead of a GUID",
      { ...gh, delegatableRoleIds: ["Owner"] },
      'delegatableRoleIds[0] "Owner" is invalid: must be a role definition GUID',
    ],
    [
      "a subscription name instead of a GUID",
      { ...gh, subscriptionId: "prod" },
      'subscriptionId "prod" is invalid: must be a subscription GUID',
    ],
  ])("%s", (_case, args, message) => {
    const before = sim.registrations.length;
    expect(() => new PipelineIdentity("bad", args)).toThrow(message);
    expect(sim.registrations.length).toBe(before); // thrown before anything registered
  });
});
