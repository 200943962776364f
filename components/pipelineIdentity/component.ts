/**
 * The PipelineIdentity component: the Entra application and service principal a release pipeline
 * signs in as, its federated credentials, and its role assignments. Arguments and their rules are
 * in ./args, the deployer role and the ABAC condition in ./permissions.
 */
import * as pulumi from "@pulumi/pulumi";
import * as azuread from "@pulumi/azuread";
import * as authorization from "@pulumi/azure-native/authorization";
import { roleAssignmentName } from "../../lib/core/naming";
import { BUILT_IN_ROLES } from "../../lib/core/roles";
import { resolvePipelineIdentitySpec, type PipelineIdentityArgs } from "./args";
import { DEPLOYER_PERMISSIONS, delegationCondition, deployerRoleGuid } from "./permissions";

/** Issuer of GitHub Actions OIDC tokens. */
export const GITHUB_ISSUER = "https://token.actions.githubusercontent.com";
/** The audience Entra expects in any token exchanged for a workload identity. */
export const TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange";

/**
 * The keyless identity of a release pipeline: an Entra application and its service principal,
 * trusted only through federated credentials (GitHub Actions environments, optionally pull
 * requests, Azure DevOps workload-identity service connections), with the narrowest Azure roles
 * that let it deploy hpc-batch stacks (`access: "deploy"`) or preview them (`access: "preview"`).
 * It creates no password, certificate or other secret.
 */
export class PipelineIdentity extends pulumi.ComponentResource {
  /** The app registration the pipeline signs in as (federated credentials only). */
  public readonly application: azuread.Application;
  /** The application's service principal: the principal of every role assignment. */
  public readonly servicePrincipal: azuread.ServicePrincipal;
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

    // Children take `{ parent: this }`: the caller's provider(s), protect and retainOnDelete reach
    // them through the parent, as Pulumi passes them down. A component's `dependsOn` is not passed
    // down (only depending ON a component waits for its children), so it is given to each child:
    // the caller's ordering holds, as when its options were merged in. Their URNs are unchanged
    // (the caller's options used to be merged under this same parent), so no alias is needed.
    const child: pulumi.CustomResourceOptions = { parent: this, dependsOn: opts?.dependsOn };
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

    this.application = app;
    this.servicePrincipal = sp;
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
