/**
 * The arguments of a PipelineIdentity and their rules: defaults, and every check that can run
 * before a child exists (plain values at once, Outputs once they resolve). Pure: no resources.
 */
import * as pulumi from "@pulumi/pulumi";
import { InputError } from "../../lib/core/errors";
import { GUID_RE } from "../../lib/core/naming";
import { BUILT_IN_ROLES } from "../../lib/core/roles";

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
export interface PipelineIdentitySpec {
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
