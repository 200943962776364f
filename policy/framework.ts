/**
 * What a policy of the hpc-batch pack is, and the helpers that keep each check to a few readable
 * lines. The policies themselves live in `policy/rules/`, one file per kind of resource.
 *
 * A check sees a resource's inputs exactly as the Pulumi engine sends them to a pack's
 * `validateResource`, and returns one message per violation. Each message names the resource,
 * the offending value and the setting that fixes it.
 */
import type { PolicyConfigSchema } from "@pulumi/policy";
import { renderValue } from "../lib/core/errors";

/** The two levels a violation can have (CrossGuard's `remediate` reports as mandatory). */
export type Level = "mandatory" | "advisory";

/** One resource as a check sees it: its type token, logical name, URN and inputs. */
export interface PolicyResource {
  type: string;
  name: string;
  urn: string;
  props: Record<string, unknown>;
}

export interface PolicyContext {
  /** The stack being deployed (`dev`, `prod`, ...). */
  stack: string;
  /** This policy's settings, defaults applied (see `configSchema`). */
  config: Record<string, unknown>;
}

/** A policy of the pack: the metadata CrossGuard shows plus a pure check. */
export interface HpcPolicy {
  /** Unique, kebab-case; the key of this policy in a policy config file. */
  name: string;
  description: string;
  enforcementLevel: Level;
  /** The resource type tokens it checks; every other resource is not applicable. */
  resourceTypes: readonly string[];
  /** Settings a team may change in a policy config file, with their defaults. */
  configSchema?: PolicyConfigSchema;
  /** Violation messages for one resource; empty when the resource complies. */
  check(resource: PolicyResource, ctx: PolicyContext): string[];
}

/** Resource type tokens the pack knows. */
export const TYPES = {
  resourceGroup: "azure-native:resources:ResourceGroup",
  roleAssignment: "azure-native:authorization:RoleAssignment",
  identity: "azure-native:managedidentity:UserAssignedIdentity",
  storageAccount: "azure-native:storage:StorageAccount",
  blobContainer: "azure-native:storage:BlobContainer",
  batchAccount: "azure-native:batch:BatchAccount",
  pool: "azure-native:batch:Pool",
  application: "azure-native:batch:Application",
  /** Every dynamic resource has this token; the application package one carries `allowUpdates`. */
  dynamic: "pulumi-nodejs:dynamic:Resource",
  /** hpc-batch's own package version (components/appPackage.ts), a dynamic resource. */
  packageVersion: "pulumi-nodejs:dynamic/batch:ApplicationPackageVersion",
} as const;

/** How messages name each kind of resource. */
const KINDS: Record<string, string> = {
  [TYPES.resourceGroup]: "resource group",
  [TYPES.roleAssignment]: "role assignment",
  [TYPES.identity]: "managed identity",
  [TYPES.storageAccount]: "storage account",
  [TYPES.blobContainer]: "blob container",
  [TYPES.batchAccount]: "Batch account",
  [TYPES.pool]: "pool",
  [TYPES.application]: "application",
  [TYPES.dynamic]: "application package",
  [TYPES.packageVersion]: "application package version",
};

/**
 * The type token without an explicit API version: `azure-native:storage/v20230101:StorageAccount`
 * is checked like `azure-native:storage:StorageAccount`, so pinning a version cannot skip a policy.
 */
export function baseType(type: string): string {
  return type.replace(/^(azure-native:[A-Za-z0-9]+)\/v\d{8}(?:preview)?:/, "$1:");
}

/** The stack part of a URN (`urn:pulumi:<stack>::<project>::<type>::<name>`). */
export function stackOfUrn(urn: string): string {
  const m = /^urn:pulumi:([^:]+)::/.exec(urn);
  return m ? m[1] : "";
}

// ---------------------------------------------------------------------------------------------
// Helpers for the checks.

/** How a message names a resource: `storage account "data"`. */
export function label(r: PolicyResource): string {
  return `${KINDS[baseType(r.type)] ?? r.type} "${r.name}"`;
}

/** The value at a property path, or undefined when any step is missing. */
export function at(obj: unknown, ...path: string[]): unknown {
  let v: unknown = obj;
  for (const key of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** `<resource>: <prop> is <value>; set <prop>: <expected> <why>.` — the shape of most messages. */
export function setting(r: PolicyResource, prop: string, expected: string, why: string): string {
  const actual = at(r.props, ...prop.split("."));
  return `${label(r)}: ${prop} is ${renderValue(actual)}; set ${prop}: ${expected} ${why}.`;
}

/** A check that a property has exactly one value. */
export function mustEqual(prop: string, expected: unknown, why: string) {
  return (r: PolicyResource): string[] =>
    at(r.props, ...prop.split(".")) === expected
      ? []
      : [setting(r, prop, JSON.stringify(expected), why)];
}
