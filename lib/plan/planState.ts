/**
 * Stand-ins for what Azure computes when resources are created (ids, endpoints, identity ids) and
 * for the invokes the program makes, so `hpc-batch plan` can evaluate the real program offline.
 * Every value is ARM-shaped (the program and its components validate ids and names as they would
 * real ones) and deterministic (the same program gives the same plan), and every stand-in is
 * recorded so the plan marks it as one.
 *
 * Never stood in: anything secret or short-lived (keys, SAS URLs such as an application
 * package's `storageUrl`): the plan has no business showing them, even made up.
 */
import { createHash } from "node:crypto";
import type { Invocation } from "./simulate";
import { batchApplicationResourceId, HPC_BATCH_GUID_NAMESPACE, uuidV5 } from "../core/naming";

/** The made-up subscription and tenant of a plan. */
export const STAND_IN_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000";
export const STAND_IN_TENANT = "00000000-0000-0000-0000-000000000000";

export interface StandInRecord {
  /** A resource type token, or the invoke token for an invoke's answer. */
  type: string;
  /** Logical name of the resource, or the invoke token. */
  name: string;
  /** The property stood in (`id`, `accountEndpoint`, `primaryEndpoints.blob`...). */
  property: string;
  value: unknown;
}

interface Reg {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

/** ARM path pieces of the azure-native types hpc-batch uses: provider path and name input. */
const ARM_TYPES: Record<string, { path: (i: Record<string, unknown>) => string; nameKey: string }> =
  {
    "azure-native:storage:StorageAccount": {
      path: (i) => `Microsoft.Storage/storageAccounts/${i.accountName}`,
      nameKey: "accountName",
    },
    "azure-native:storage:BlobContainer": {
      path: (i) =>
        `Microsoft.Storage/storageAccounts/${i.accountName}/blobServices/default/containers/${i.containerName}`,
      nameKey: "containerName",
    },
    "azure-native:batch:BatchAccount": {
      path: (i) => `Microsoft.Batch/batchAccounts/${i.accountName}`,
      nameKey: "accountName",
    },
    "azure-native:batch:Pool": {
      path: (i) => `Microsoft.Batch/batchAccounts/${i.accountName}/pools/${i.poolName}`,
      nameKey: "poolName",
    },
    "azure-native:batch:Application": {
      path: (i) =>
        `Microsoft.Batch/batchAccounts/${i.accountName}/applications/${i.applicationName}`,
      nameKey: "applicationName",
    },
    "azure-native:batch:ApplicationPackage": {
      path: (i) =>
        `Microsoft.Batch/batchAccounts/${i.accountName}/applications/${i.applicationName}/versions/${i.versionName}`,
      nameKey: "versionName",
    },
    "azure-native:managedidentity:UserAssignedIdentity": {
      path: (i) => `Microsoft.ManagedIdentity/userAssignedIdentities/${i.resourceName}`,
      nameKey: "resourceName",
    },
  };

/** The application package component's dynamic resource (components/appPackage.ts). */
export const PACKAGE_VERSION_TYPE = "pulumi-nodejs:dynamic/batch:ApplicationPackageVersion";

/** ARM id of a Batch application from the package version resource's inputs. */
function applicationResourceId(i: Record<string, unknown>): string {
  return batchApplicationResourceId(
    String(i.subscriptionId),
    String(i.resourceGroupName),
    String(i.accountName),
    String(i.applicationId),
  );
}

/** Records and answers the stand-ins of one plan. */
export class PlanState {
  readonly standIns: StandInRecord[] = [];
  /** Invokes the plan could not answer (the engine reports them only as their consequences). */
  readonly errors: Error[] = [];

  constructor(private readonly defaultLocation: string) {}

  private record(type: string, name: string, property: string, value: unknown): void {
    this.standIns.push({ type, name, property, value });
  }

  /** A deterministic GUID for a property of a resource (principal ids, client ids). */
  private guid(reg: Reg, what: string): string {
    return uuidV5(HPC_BATCH_GUID_NAMESPACE, `plan stand-in|${reg.type}|${reg.name}|${what}`);
  }

  /** The name Azure would give the resource: its name input, else the logical name + a suffix. */
  private azureName(reg: Reg, nameKey?: string): string {
    const given = nameKey ? reg.inputs[nameKey] : undefined;
    if (typeof given === "string" && given !== "") return given;
    // azure-native auto-names with the logical name and a random suffix; this one is stable.
    const suffix = createHash("sha256").update(`${reg.type}|${reg.name}`).digest("hex").slice(0, 8);
    const name = `${reg.name}${suffix}`;
    this.record(reg.type, reg.name, "name", name);
    return name;
  }

  /** Physical id: an ARM resource id for azure-native resources. */
  id(reg: Reg): string {
    const id = this.armId(reg) ?? `${reg.name}-id`;
    this.record(reg.type, reg.name, "id", id);
    return id;
  }

  private armId(reg: Reg): string | undefined {
    const i = reg.inputs;
    const sub = `/subscriptions/${STAND_IN_SUBSCRIPTION}`;
    if (reg.type === "azure-native:resources:ResourceGroup") {
      return `${sub}/resourceGroups/${this.azureName(reg, "resourceGroupName")}`;
    }
    if (reg.type === PACKAGE_VERSION_TYPE)
      return `${applicationResourceId(i)}/versions/${i.version}`;
    if (reg.type === "azure-native:authorization:RoleAssignment") {
      const name =
        typeof i.roleAssignmentName === "string" ? i.roleAssignmentName : this.guid(reg, "name");
      return `${i.scope ?? sub}/providers/Microsoft.Authorization/roleAssignments/${name}`;
    }
    if (!reg.type.startsWith("azure-native:")) return undefined;
    const known = ARM_TYPES[reg.type];
    const rg = `${sub}/resourceGroups/${i.resourceGroupName ?? "stand-in-rg"}/providers`;
    if (known)
      return `${rg}/${known.path({ ...i, [known.nameKey]: this.azureName(reg, known.nameKey) })}`;
    // Other azure-native types: Microsoft.<Module>/<type>s/<name>, close enough for a plan.
    const [, mod, type] = reg.type.split(":");
    const ns = `Microsoft.${mod.charAt(0).toUpperCase()}${mod.slice(1)}`;
    const plural = `${type.charAt(0).toLowerCase()}${type.slice(1)}s`;
    return `${rg}/${ns}/${plural}/${this.azureName(reg)}`;
  }

  /** Provider-computed outputs, merged over the resource's inputs. */
  state(reg: Reg): Record<string, unknown> {
    const i = reg.inputs;
    const out: Record<string, unknown> = {};
    const set = (property: string, value: unknown) => {
      this.record(reg.type, reg.name, property, value);
      return value;
    };
    const location = typeof i.location === "string" ? i.location : this.defaultLocation;
    switch (reg.type) {
      case "azure-native:resources:ResourceGroup":
        out.name = this.azureName(reg, "resourceGroupName");
        break;
      case "azure-native:storage:StorageAccount": {
        const name = this.azureName(reg, "accountName");
        out.name = name;
        const endpoint = (svc: string) => `https://${name}.${svc}.core.windows.net/`;
        out.primaryEndpoints = set("primaryEndpoints", {
          blob: endpoint("blob"),
          dfs: endpoint("dfs"),
          file: endpoint("file"),
          queue: endpoint("queue"),
          table: endpoint("table"),
          web: `https://${name}.z6.web.core.windows.net/`,
        });
        break;
      }
      case "azure-native:batch:BatchAccount": {
        const name = this.azureName(reg, "accountName");
        out.name = name;
        out.accountEndpoint = set("accountEndpoint", `${name}.${location}.batch.azure.com`);
        break;
      }
      case "azure-native:managedidentity:UserAssignedIdentity":
        out.name = this.azureName(reg, "resourceName");
        out.principalId = set("principalId", this.guid(reg, "principalId"));
        out.clientId = set("clientId", this.guid(reg, "clientId"));
        out.tenantId = set("tenantId", STAND_IN_TENANT);
        break;
      case PACKAGE_VERSION_TYPE: {
        // What the dynamic provider returns once the version is uploaded and active.
        const appId = applicationResourceId(i);
        out.state = set("state", "Active");
        out.applicationResourceId = set("applicationResourceId", appId);
        // The version is the program's own (its input), not a stand-in: only the id is made up.
        this.record(reg.type, reg.name, "packageReference", { id: appId });
        out.packageReference = { id: appId, version: i.version };
        break;
      }
      default: {
        const known = ARM_TYPES[reg.type];
        if (known) out.name = this.azureName(reg, known.nameKey);
      }
    }
    return out;
  }

  /**
   * Answers the invokes the program makes. Any other invoke is recorded in `errors` (the plan
   * then fails, naming it) and answered with nothing: throwing here would surface only as an
   * engine error about a property, in an unhandled rejection.
   */
  call(inv: Invocation): Record<string, unknown> {
    if (inv.token === "azure-native:authorization:getClientConfig") {
      const answer = {
        clientId: uuidV5(HPC_BATCH_GUID_NAMESPACE, "plan stand-in|client"),
        objectId: uuidV5(HPC_BATCH_GUID_NAMESPACE, "plan stand-in|object"),
        subscriptionId: STAND_IN_SUBSCRIPTION,
        tenantId: STAND_IN_TENANT,
      };
      for (const [k, v] of Object.entries(answer)) this.record(inv.token, inv.token, k, v);
      return answer;
    }
    this.errors.push(
      new Error(
        `the plan has no stand-in for the invoke ${inv.token}; add one to lib/plan/planState.ts`,
      ),
    );
    return {};
  }

  /** Stand-in properties of one resource, in the order they were made. */
  of(type: string, name: string): string[] {
    const props = this.standIns
      .filter((s) => s.type === type && s.name === name)
      .map((s) => s.property);
    return [...new Set(props)];
  }

  /**
   * Who a principal id the plan made up belongs to, for review: a managed identity of the
   * program, or whoever runs `pulumi up` (getClientConfig). Undefined for any other value.
   */
  describe(id: string): string | undefined {
    const s = this.standIns.find((x) => x.value === id);
    if (!s) return undefined;
    if (
      s.type === "azure-native:managedidentity:UserAssignedIdentity" &&
      s.property === "principalId"
    )
      return `managed identity ${s.name}`;
    if (s.type === "azure-native:authorization:getClientConfig" && s.property === "objectId")
      return "the identity running pulumi up";
    return undefined;
  }

  /** Every string value made up by this plan (to mark outputs derived from them). */
  values(): string[] {
    const out = new Set<string>();
    const walk = (v: unknown) => {
      if (typeof v === "string" && v.length >= 8) out.add(v);
      else if (v && typeof v === "object") Object.values(v).forEach(walk);
    };
    for (const s of this.standIns) walk(s.value);
    return [...out];
  }
}
