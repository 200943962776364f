/**
 * The keyless identity a release pipeline signs in as: an Entra application and its service
 * principal, trusted only through federated credentials (GitHub Actions environments, optionally
 * pull requests, Azure DevOps workload-identity service connections), with the narrowest Azure
 * roles that let it deploy hpc-batch stacks (`access: "deploy"`) or preview them
 * (`access: "preview"`). It creates no password, certificate or other secret.
 */
import * as pulumi from "@pulumi/pulumi";
import * as azuread from "@pulumi/azuread";
import * as authorization from "@pulumi/azure-native/authorization";
import { InputError } from "../lib/core/errors";
import { GUID_RE, HPC_BATCH_GUID_NAMESPACE, roleAssignmentName, uuidV5 } from "../lib/core/naming";

/** Issuer of GitHub Actions OIDC tokens. */
export const GITHUB_ISSUER = "https://token.actions.githubusercontent.com";
/** The audience Entra expects in any token exchanged for a workload identity. */
export const TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange";

/** Built-in Azure role definition GUIDs this component assigns (the same in every tenant). */
export const BUILT_IN_ROLES = {
  reader: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
  roleBasedAccessControlAdministrator: "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
  storageBlobDataContributor: "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
  storageBlobDataReader: "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
  keyVaultCryptoUser: "12338af0-0e69-4776-bea7-57ae8d297424",
} as const;

/**
 * What the deployer custom role allows: exactly the resource types the hpc-batch stack manages
 * (resource group, storage account, Batch account with its pools and application packages,
 * user-assigned identity), reading role assignments, and Batch jobs (data actions, as in the
 * built-in Azure Batch Job Submitter role) for `hpc-batch verify`'s smoke task. Creating role assignments comes from a
 * separate, condition-limited assignment. Deleting resource groups, adding federated credentials
 * to managed identities (a way to mint new identities) and reading keys or minting SAS tokens
 * (the stack is Entra-only) are left out on purpose.
 */
export const DEPLOYER_PERMISSIONS = {
  actions: [
    "Microsoft.Resources/subscriptions/resourceGroups/read",
    "Microsoft.Resources/subscriptions/resourceGroups/write",
    "Microsoft.Storage/storageAccounts/*",
    "Microsoft.Batch/batchAccounts/*",
    "Microsoft.Batch/locations/*/read",
    "Microsoft.ManagedIdentity/userAssignedIdentities/read",
    "Microsoft.ManagedIdentity/userAssignedIdentities/write",
    "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
    "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
    "Microsoft.Authorization/roleAssignments/read",
    "Microsoft.Authorization/roleDefinitions/read",
  ],
  notActions: [
    "Microsoft.Storage/storageAccounts/listKeys/action",
    "Microsoft.Storage/storageAccounts/regenerateKey/action",
    "Microsoft.Storage/storageAccounts/ListAccountSas/action",
    "Microsoft.Storage/storageAccounts/listServiceSas/action",
    "Microsoft.Batch/batchAccounts/listKeys/action",
    "Microsoft.Batch/batchAccounts/regenerateKeys/action",
  ],
  dataActions: ["Microsoft.Batch/batchAccounts/jobs/*"],
};

export type PipelineAccess = "deploy" | "preview";

/** An Azure DevOps service connection of type "workload identity federation". */
export interface AzureDevOpsConnection {
  /** "Issuer" shown on the service connection. Required. Must be an https URL. */
  issuer: pulumi.Input<string>;
  /** "Subject identifier" shown on the service connection. Required. 1 to 600 characters. */
  subject: pulumi.Input<string>;
}

export interface PipelineIdentityArgs {
  /** What the identity may do. Defaults to "deploy". Must be "deploy" or "preview" (plain: it decides which children exist). */
  access?: PipelineAccess;
  /** Display name of the app registration. Defaults to the component's name. Must be 1 to 256 characters. */
  displayName?: pulumi.Input<string>;
  /** Object ids of the app registration's and service principal's owners. Defaults to none. */
  owners?: pulumi.Input<pulumi.Input<string>[]>;
  /** GitHub repository whose workflows may sign in. Defaults to none (no GitHub credential). Must be ORG/REPO. */
  githubRepository?: pulumi.Input<string>;
  /** GitHub environments whose jobs may sign in. Defaults to []. Each 1 to 100 letters, digits, "-" or "_", unique ignoring case (plain: each names a child). */
  githubEnvironments?: string[];
  /** Whether pull-request workflows (no environment) may sign in. Defaults to false. Must be false for "deploy" (plain: it decides a child). */
  githubPullRequests?: boolean;
  /** Azure DevOps service connections by a label that names the child. Defaults to none. Labels are 1 to 40 lowercase letters, digits or "-". */
  azureDevOpsConnections?: Record<string, AzureDevOpsConnection>;
  /** Scopes the stacks deploy into, by label: deployer role (deploy) or Reader (preview). Defaults to { subscription: the subscription }. Each starts with /subscriptions/<id>. */
  targetScopes?: Record<string, pulumi.Input<string>>;
  /** Pulumi state containers, by label: Storage Blob Data Contributor (deploy) or Reader (preview). Defaults to none. Each starts with /subscriptions/<id>. */
  stateScopes?: Record<string, pulumi.Input<string>>;
  /** Extra scopes where packages are uploaded, by label: Storage Blob Data Contributor. Defaults to none. Must be empty for "preview". */
  packageScopes?: Record<string, pulumi.Input<string>>;
  /** Key Vault keys of the azurekeyvault secrets provider, by label: Key Vault Crypto User. Defaults to none. Each starts with /subscriptions/<id>. */
  secretsKeyScopes?: Record<string, pulumi.Input<string>>;
  /** Role definition GUIDs the identity may assign to service principals in targetScopes. Defaults to [Storage Blob Data Contributor]. "deploy" only; non-empty GUIDs. */
  delegatableRoleIds?: pulumi.Input<pulumi.Input<string>[]>;
  /** Subscription of the deployer custom role. Defaults to the provider's subscription. Must be a GUID. */
  subscriptionId?: pulumi.Input<string>;
}

const GITHUB_REPOSITORY = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/(?!\.\.?$)[A-Za-z0-9._-]{1,100}$/;
const GITHUB_ENVIRONMENT = /^[A-Za-z0-9_-]{1,100}$/;
const LABEL = /^[a-z0-9][a-z0-9-]{0,39}$/;
const SCOPE =
  /^\/subscriptions\/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(\/.+)?$/;

const RULES = {
  access: 'must be "deploy" or "preview"',
  displayName: "must be 1 to 256 characters",
  githubRepository:
    'must be ORG/REPO: a GitHub owner (letters, digits, "-") and a repository name (letters, digits, ".", "-", "_")',
  githubEnvironment:
    'must be 1 to 100 letters, digits, "-" or "_" (it names a federated credential)',
  label: 'must be 1 to 40 lowercase letters, digits or "-" (it names a child resource)',
  issuer: "must be an https URL (the issuer shown on the service connection)",
  subject: "must be 1 to 600 characters (the subject identifier shown on the service connection)",
  scope: "must be an Azure scope starting with /subscriptions/<subscription id>",
  roleId: "must be a role definition GUID",
  subscriptionId: "must be a subscription GUID",
};

/** Throws unless a plain value satisfies `ok`; an Output is checked once it resolves. */
function checked<T>(
  value: pulumi.Input<T>,
  field: string,
  ok: (v: T) => boolean,
  rule: string,
): pulumi.Input<T> {
  const test = (v: T): T => {
    if (!ok(v)) throw new InputError(field, v, rule);
    return v;
  };
  if (pulumi.Output.isInstance(value)) return value.apply(test);
  if (value instanceof Promise) return pulumi.output(value).apply((v) => test(v as T));
  return test(value as T);
}

function checkLabels(field: string, labels: string[]): void {
  for (const label of labels) {
    if (!LABEL.test(label)) throw new InputError(`${field} key`, label, RULES.label);
  }
}

function checkScopes(
  field: string,
  scopes: Record<string, pulumi.Input<string>> | undefined,
): Record<string, pulumi.Input<string>> {
  const out: Record<string, pulumi.Input<string>> = {};
  checkLabels(field, Object.keys(scopes ?? {}));
  for (const [label, scope] of Object.entries(scopes ?? {})) {
    out[label] = checked(scope, `${field}.${label}`, (v) => SCOPE.test(v), RULES.scope);
  }
  return out;
}

/** Non-empty role GUIDs; a plain list is checked at once, an Output once it resolves. */
function resolveRoleIds(ids: pulumi.Input<pulumi.Input<string>[]>): pulumi.Output<string[]> {
  const validate = (list: string[]): string[] => {
    if (list.length === 0) {
      throw new InputError(
        "delegatableRoleIds",
        list,
        "must name at least one role (the stack assigns a blob data role to its Batch identity)",
      );
    }
    list.forEach((id, i) => {
      if (!GUID_RE.test(id)) throw new InputError(`delegatableRoleIds[${i}]`, id, RULES.roleId);
    });
    return list;
  };
  if (Array.isArray(ids) && ids.every((id) => typeof id === "string")) validate(ids as string[]);
  return pulumi.output(ids).apply(validate);
}

function isHttpsUrl(v: string): boolean {
  try {
    return new URL(v).protocol === "https:";
  } catch {
    return false;
  }
}

/** The validated, defaulted arguments: every rule that can be checked before a child exists. */
interface PipelineIdentitySpec {
  access: PipelineAccess;
  displayName: pulumi.Input<string>;
  owners?: pulumi.Input<pulumi.Input<string>[]>;
  github?: { repository: pulumi.Input<string>; environments: string[]; pullRequests: boolean };
  azureDevOps: Record<string, AzureDevOpsConnection>;
  /** Undefined means "the subscription", known only once the client config resolves. */
  targetScopes?: Record<string, pulumi.Input<string>>;
  stateScopes: Record<string, pulumi.Input<string>>;
  packageScopes: Record<string, pulumi.Input<string>>;
  secretsKeyScopes: Record<string, pulumi.Input<string>>;
  delegatableRoleIds: pulumi.Output<string[]>;
  subscriptionId?: pulumi.Input<string>;
}

/** Applies defaults and validates; throws `InputError` with the exact rule on bad input. */
export function resolvePipelineIdentitySpec(
  name: string,
  args: PipelineIdentityArgs,
): PipelineIdentitySpec {
  const access = args.access ?? "deploy";
  if (access !== "deploy" && access !== "preview") {
    throw new InputError("access", access, RULES.access);
  }
  const displayName = checked(
    args.displayName ?? name,
    "displayName",
    (v) => v.trim().length >= 1 && v.length <= 256,
    RULES.displayName,
  );

  const environments = args.githubEnvironments ?? [];
  const pullRequests = args.githubPullRequests ?? false;
  environments.forEach((env, i) => {
    if (!GITHUB_ENVIRONMENT.test(env)) {
      throw new InputError(`githubEnvironments[${i}]`, env, RULES.githubEnvironment);
    }
  });
  const lower = environments.map((e) => e.toLowerCase());
  if (new Set(lower).size !== lower.length) {
    throw new InputError(
      "githubEnvironments",
      environments,
      "must not repeat a name: GitHub environment names ignore case",
    );
  }
  if (pullRequests && access === "deploy") {
    throw new InputError(
      "githubPullRequests",
      true,
      'must be false when access is "deploy": pull requests get a separate identity with access "preview"',
    );
  }
  let github: PipelineIdentitySpec["github"];
  if (args.githubRepository === undefined) {
    if (environments.length > 0 || pullRequests) {
      throw new InputError(
        "githubRepository",
        undefined,
        "must be set when githubEnvironments or githubPullRequests is",
      );
    }
  } else {
    if (environments.length === 0 && !pullRequests) {
      throw new InputError(
        "githubEnvironments",
        environments,
        "must name at least one environment when githubRepository is set and githubPullRequests is false",
      );
    }
    const repository = checked(
      args.githubRepository,
      "githubRepository",
      (v) => GITHUB_REPOSITORY.test(v),
      RULES.githubRepository,
    );
    github = { repository, environments, pullRequests };
  }

  const azureDevOps: Record<string, AzureDevOpsConnection> = {};
  checkLabels("azureDevOpsConnections", Object.keys(args.azureDevOpsConnections ?? {}));
  for (const [label, c] of Object.entries(args.azureDevOpsConnections ?? {})) {
    azureDevOps[label] = {
      issuer: checked(c.issuer, `azureDevOpsConnections.${label}.issuer`, isHttpsUrl, RULES.issuer),
      subject: checked(
        c.subject,
        `azureDevOpsConnections.${label}.subject`,
        (v) => v.length >= 1 && v.length <= 600 && v.trim() === v,
        RULES.subject,
      ),
    };
  }
  if (!github && Object.keys(azureDevOps).length === 0) {
    throw new InputError(
      "githubRepository",
      undefined,
      "must be set, or azureDevOpsConnections must name a connection: an identity without a federated credential cannot sign in",
    );
  }

  if (args.targetScopes && Object.keys(args.targetScopes).length === 0) {
    throw new InputError(
      "targetScopes",
      args.targetScopes,
      "must name at least one scope (leave it unset for the whole subscription)",
    );
  }
  const targetScopes = args.targetScopes
    ? checkScopes("targetScopes", args.targetScopes)
    : undefined;
  const stateScopes = checkScopes("stateScopes", args.stateScopes);
  const packageScopes = checkScopes("packageScopes", args.packageScopes);
  const secretsKeyScopes = checkScopes("secretsKeyScopes", args.secretsKeyScopes);
  if (access === "preview" && Object.keys(packageScopes).length > 0) {
    throw new InputError(
      "packageScopes",
      Object.keys(packageScopes),
      'must be empty when access is "preview": a preview never uploads packages',
    );
  }
  if (access === "preview" && args.delegatableRoleIds !== undefined) {
    throw new InputError(
      "delegatableRoleIds",
      args.delegatableRoleIds,
      'must be unset when access is "preview": a preview never assigns roles',
    );
  }
  const roleIds = resolveRoleIds(
    args.delegatableRoleIds ?? [BUILT_IN_ROLES.storageBlobDataContributor],
  );
  const subscriptionId =
    args.subscriptionId === undefined
      ? undefined
      : checked(
          args.subscriptionId,
          "subscriptionId",
          (v) => GUID_RE.test(v),
          RULES.subscriptionId,
        );

  return {
    access,
    displayName,
    owners: args.owners,
    github,
    azureDevOps,
    targetScopes,
    stateScopes,
    packageScopes,
    secretsKeyScopes,
    delegatableRoleIds: roleIds,
    subscriptionId,
  };
}

/**
 * The GUID (name) of the deployer custom role: derived from its subscription and the identity's
 * display name, so re-running the program finds the same role definition.
 */
export function deployerRoleGuid(subscriptionScope: string, displayName: string): string {
  return uuidV5(
    HPC_BATCH_GUID_NAMESPACE,
    ["role-definition", subscriptionScope, "deployer", displayName]
      .map((p) => p.toLowerCase())
      .join("|"),
  );
}

/**
 * The ABAC condition on the Role Based Access Control Administrator assignment: the identity may
 * create or delete only assignments of these roles, and only for service principals (which
 * includes managed identities) or for itself (a stack that grants whoever deploys it blob access
 * cannot know that principal's type). Format: learn.microsoft.com/azure/role-based-access-control/
 * delegate-role-assignments-examples ("Constrain roles", "Constrain roles and principal types").
 */
export function delegationCondition(roleIds: string[], selfObjectId: string): string {
  const roles = roleIds.join(", ");
  const clause = (action: "write" | "delete", source: "Request" | "Resource") => [
    "(",
    " (",
    `  !(ActionMatches{'Microsoft.Authorization/roleAssignments/${action}'})`,
    " )",
    " OR",
    " (",
    `  @${source}[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${roles}}`,
    "  AND",
    "  (",
    `   @${source}[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}`,
    "   OR",
    `   @${source}[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {${selfObjectId}}`,
    "  )",
    " )",
    ")",
  ];
  return [...clause("write", "Request"), "AND", ...clause("delete", "Resource")].join("\n");
}

/** The keyless identity of a release pipeline; see the module comment. */
export class PipelineIdentity extends pulumi.ComponentResource {
  /** Application (client) id: AZURE_CLIENT_ID / ARM_CLIENT_ID in a pipeline. */
  public readonly clientId: pulumi.Output<string>;
  /** Tenant the identity lives in: AZURE_TENANT_ID / ARM_TENANT_ID. */
  public readonly tenantId: pulumi.Output<string>;
  /** Subscription the roles are granted in: AZURE_SUBSCRIPTION_ID / ARM_SUBSCRIPTION_ID. */
  public readonly subscriptionId: pulumi.Output<string>;
  /** Object id of the service principal, the principal of every role assignment. */
  public readonly servicePrincipalObjectId: pulumi.Output<string>;

  constructor(name: string, args: PipelineIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
    const spec = resolvePipelineIdentitySpec(name, args);
    super("hpc-batch:identity:PipelineIdentity", name, {}, opts);
    const child = pulumi.mergeOptions(opts, { parent: this });

    const client = authorization.getClientConfigOutput({ parent: this });
    this.tenantId = client.tenantId;
    this.subscriptionId = pulumi.output(spec.subscriptionId ?? client.subscriptionId);
    const subscriptionScope = pulumi.interpolate`/subscriptions/${this.subscriptionId}`;
    /** A role by its GUID and its full id (which, for a custom role, carries the dependency). */
    type Role = { guid: pulumi.Input<string>; id: pulumi.Input<string> };
    const builtIn = (guid: string): Role => ({
      guid,
      id: pulumi.interpolate`${subscriptionScope}/providers/Microsoft.Authorization/roleDefinitions/${guid}`,
    });

    const app = new azuread.Application(
      `${name}-app`,
      {
        displayName: spec.displayName,
        description: `Keyless ${spec.access} identity of the hpc-batch release pipelines (federated credentials only)`,
        signInAudience: "AzureADMyOrg",
        owners: spec.owners,
        preventDuplicateNames: true,
      },
      child,
    );
    const sp = new azuread.ServicePrincipal(
      `${name}-sp`,
      { clientId: app.clientId, owners: spec.owners, appRoleAssignmentRequired: false },
      child,
    );

    const federate = (
      suffix: string,
      displayName: string,
      issuer: pulumi.Input<string>,
      subject: pulumi.Input<string>,
      description: pulumi.Input<string>,
    ) =>
      new azuread.ApplicationFederatedIdentityCredential(
        `${name}-${suffix}`,
        {
          applicationId: app.id,
          displayName,
          description,
          issuer,
          subject,
          audiences: [TOKEN_EXCHANGE_AUDIENCE],
        },
        child,
      );
    if (spec.github) {
      const repo = spec.github.repository;
      for (const env of spec.github.environments) {
        federate(
          `github-${env}`,
          `github-env-${env}`,
          GITHUB_ISSUER,
          pulumi.interpolate`repo:${repo}:environment:${env}`,
          pulumi.interpolate`GitHub Actions jobs in environment ${env} of ${repo}`,
        );
      }
      if (spec.github.pullRequests) {
        federate(
          "github-pr",
          "github-pull-request",
          GITHUB_ISSUER,
          pulumi.interpolate`repo:${repo}:pull_request`,
          pulumi.interpolate`GitHub Actions pull-request workflows of ${repo}`,
        );
      }
    }
    for (const [label, c] of Object.entries(spec.azureDevOps)) {
      federate(
        `azdo-${label}`,
        `azure-devops-${label}`,
        c.issuer,
        c.subject,
        `Azure DevOps workload-identity service connection "${label}"`,
      );
    }

    const assign = (
      suffix: string,
      scope: pulumi.Input<string>,
      role: Role,
      description: string,
      condition?: pulumi.Input<string>,
    ) =>
      new authorization.RoleAssignment(
        `${name}-${suffix}`,
        {
          // Named from scope, principal and role (lib/core/naming): a re-run updates, never duplicates.
          roleAssignmentName: pulumi
            .all([scope, sp.objectId, role.guid])
            .apply(([s, p, r]) => roleAssignmentName(s, p, r)),
          scope,
          principalId: sp.objectId,
          // Stated so ARM need not look a brand-new principal up (replication delay).
          principalType: "ServicePrincipal",
          roleDefinitionId: role.id,
          description,
          ...(condition ? { condition, conditionVersion: "2.0" } : {}),
        },
        child,
      );

    const targets = spec.targetScopes ?? { subscription: subscriptionScope };
    if (spec.access === "deploy") {
      const deployer = new authorization.RoleDefinition(
        `${name}-deployer`,
        {
          roleDefinitionId: pulumi
            .all([subscriptionScope, spec.displayName])
            .apply(([s, d]) => deployerRoleGuid(s, d)),
          roleName: pulumi.interpolate`${spec.displayName} deployer`,
          description:
            "Deploys hpc-batch stacks: resource groups (no delete), storage and Batch accounts, user-assigned identities, Batch jobs; no keys or SAS",
          roleType: "CustomRole",
          scope: subscriptionScope,
          assignableScopes: Object.values(targets),
          permissions: [
            {
              actions: DEPLOYER_PERMISSIONS.actions,
              notActions: DEPLOYER_PERMISSIONS.notActions,
              dataActions: DEPLOYER_PERMISSIONS.dataActions,
              notDataActions: [],
            },
          ],
        },
        child,
      );
      const condition = pulumi
        .all([spec.delegatableRoleIds, sp.objectId])
        .apply(([ids, self]) => delegationCondition(ids, self));
      for (const [label, scope] of Object.entries(targets)) {
        assign(
          `deploy-${label}`,
          scope,
          { guid: deployer.id.apply((id) => id.split("/").pop()!), id: deployer.id },
          "hpc-batch pipeline: deploy the stack",
        );
        assign(
          `rbac-${label}`,
          scope,
          builtIn(BUILT_IN_ROLES.roleBasedAccessControlAdministrator),
          "hpc-batch pipeline: grant blob data roles to the Batch identity or itself (condition-limited)",
          condition,
        );
      }
    } else {
      for (const [label, scope] of Object.entries(targets)) {
        assign(
          `read-${label}`,
          scope,
          builtIn(BUILT_IN_ROLES.reader),
          "hpc-batch pipeline: preview",
        );
      }
    }
    const stateRole =
      spec.access === "deploy"
        ? BUILT_IN_ROLES.storageBlobDataContributor
        : BUILT_IN_ROLES.storageBlobDataReader;
    for (const [label, scope] of Object.entries(spec.stateScopes)) {
      assign(`state-${label}`, scope, builtIn(stateRole), "hpc-batch pipeline: Pulumi state");
    }
    for (const [label, scope] of Object.entries(spec.packageScopes)) {
      assign(
        `package-${label}`,
        scope,
        builtIn(BUILT_IN_ROLES.storageBlobDataContributor),
        "hpc-batch pipeline: upload application packages",
      );
    }
    for (const [label, scope] of Object.entries(spec.secretsKeyScopes)) {
      assign(
        `secrets-${label}`,
        scope,
        builtIn(BUILT_IN_ROLES.keyVaultCryptoUser),
        "hpc-batch pipeline: Pulumi secrets provider key",
      );
    }

    this.clientId = app.clientId;
    this.servicePrincipalObjectId = sp.objectId;
    this.registerOutputs({
      clientId: this.clientId,
      tenantId: this.tenantId,
      subscriptionId: this.subscriptionId,
      servicePrincipalObjectId: this.servicePrincipalObjectId,
    });
  }
}
