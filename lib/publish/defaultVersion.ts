/**
 * The application's default version: what a pool that references the application without a
 * version installs. `hpc-batch set-default` points it at an active version (a rollback is pointing
 * it at an earlier one) and `hpc-batch verify --promote` at a version whose canary passed.
 *
 * Changing the default does not touch running nodes: a pool's package references are installed
 * when a node joins the pool, reboots or is reimaged (Microsoft Learn, "Deploy applications to
 * compute nodes with Batch application packages", batch-application-packages.md; batch-facts.md).
 * So every change says which nodes keep which version, and rebooting the idle nodes is offered.
 */
import type { BatchApplications } from "../azure/armBatchApps";
import { type BatchData, describeBatchError, type NodeStatus } from "../azure/batchData";

/** The ARM calls set-default makes (lib/azure/armBatchApps.ts, api-version 2025-06-01). */
export type DefaultVersionCalls = Pick<
  BatchApplications,
  "getApplication" | "listVersions" | "updateApplication"
>;

/** A change of the default version and the pool's nodes at that moment. */
export interface Rollout {
  applicationId: string;
  poolId: string;
  /** The default now. */
  version: string;
  /** The default before; absent when there was none. Equal to `version` when nothing changed. */
  previous?: string;
  /** The pool's nodes after the change; absent when they could not be listed (`nodesError`). */
  nodes?: NodeStatus[];
  nodesError?: string;
}

/** Node ids rebooted, and the nodes left alone because they were not idle. */
export interface IdleReboot {
  rebooted: string[];
  busy: NodeStatus[];
  /** Idle nodes whose reboot Batch refused (a node may leave `idle` between list and reboot). */
  failed: { id: string; error: string }[];
}

export interface SetDefaultResult {
  rollout: Rollout;
  /** False when the version already was the default (no write was made). */
  changed: boolean;
  reboot?: IdleReboot;
}

/** A refusal found before any write: the version is missing or not Active. */
export class DefaultVersionRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DefaultVersionRefused";
  }
}

const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase(); // Batch ignores case

/**
 * Points the application's default at `version` after checking, before any write, that the version
 * exists and is Active (Batch refuses a default or a pool reference to an inactive package). Then
 * lists the pool's nodes and, with `rebootIdleNodes`, reboots the idle ones so they install it.
 */
export async function setDefaultVersion(opts: {
  applicationId: string;
  version: string;
  poolId: string;
  apps: DefaultVersionCalls;
  batch: Pick<BatchData, "listNodes" | "rebootNode">;
  rebootIdleNodes?: boolean;
}): Promise<SetDefaultResult> {
  const { applicationId: app, poolId } = opts;
  const application = await opts.apps.getApplication(app);
  if (!application) throw new DefaultVersionRefused(`application ${app} does not exist`);
  const versions = await opts.apps.listVersions(app);
  const active = versions
    .filter((v) => v.state === "Active")
    .map((v) => v.name)
    .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  const found = versions.find((v) => sameName(v.name, opts.version));
  if (!found || found.state !== "Active") {
    const what = found ? `is ${found.state}, not Active` : "does not exist";
    const choices = active.length
      ? `active versions: ${active.join(", ")}`
      : "no version is active";
    throw new DefaultVersionRefused(
      `${app} ${opts.version} ${what}; the default stays ${application.defaultVersion ?? "unset"} (${choices})`,
    );
  }
  const previous = application.defaultVersion;
  const changed = previous === undefined || !sameName(previous, found.name);
  if (changed) await opts.apps.updateApplication(app, { defaultVersion: found.name });
  const rollout: Rollout = { applicationId: app, poolId, version: found.name, previous };
  try {
    rollout.nodes = await opts.batch.listNodes(poolId);
  } catch (err) {
    rollout.nodesError = describeBatchError(err);
  }
  const result: SetDefaultResult = { rollout, changed };
  if (opts.rebootIdleNodes) {
    if (!rollout.nodes)
      throw new Error(`could not list pool ${poolId}'s nodes: ${rollout.nodesError}`);
    result.reboot = await rebootIdleNodes(opts.batch, poolId, rollout.nodes);
  }
  return result;
}

/**
 * Reboots the idle nodes (`taskcompletion`: should a task land on one meanwhile, it finishes
 * first) so they install the current default; busy nodes are left alone.
 */
export async function rebootIdleNodes(
  batch: Pick<BatchData, "rebootNode">,
  poolId: string,
  nodes: NodeStatus[],
): Promise<IdleReboot> {
  const out: IdleReboot = { rebooted: [], busy: [], failed: [] };
  for (const n of nodes) {
    if (n.state !== "idle") {
      out.busy.push(n);
      continue;
    }
    try {
      await batch.rebootNode(poolId, n.id);
      out.rebooted.push(n.id);
    } catch (err) {
      out.failed.push({ id: n.id, error: describeBatchError(err) });
    }
  }
  return out;
}

/** `1 node`, `2 idle nodes`. */
const count = (n: number, what = "node") => `${n} ${what}${n === 1 ? "" : "s"}`;
/** The verb for n nodes: `keep`/`keeps`, `install`/`installs`. */
const verb = (n: number, plural: string) => (n === 1 ? `${plural}s` : plural);

/**
 * Which nodes run which version, and when the others get the new default, e.g.
 * `default version: 1.3.0 (was 1.2.0). 2 nodes in pool ffmpeg-pool keep 1.2.0 until they reboot
 * or are reimaged; nodes that join get 1.3.0.` plus, when idle nodes could be rolled, the command.
 */
export function describeRollout(r: Rollout, rollCommand?: string): string {
  const changed = r.previous === undefined || !sameName(r.previous, r.version);
  const head = changed
    ? `default version: ${r.version} (was ${r.previous ?? "unset"}).`
    : `default version: ${r.version} (unchanged).`;
  if (!r.nodes) {
    return `${head} Nodes that join pool ${r.poolId}, reboot or are reimaged get ${r.version}; its nodes could not be listed (${r.nodesError ?? "unknown error"}).`;
  }
  const n = r.nodes.length;
  if (n === 0) return `${head} Pool ${r.poolId} has no nodes; nodes that join get ${r.version}.`;
  const they = n === 1 ? "it" : "they";
  const old = changed && r.previous !== undefined ? r.previous : `the version ${they} installed`;
  const idle = r.nodes.filter((x) => x.state === "idle").length;
  const roll =
    rollCommand && idle > 0 ? ` Roll the ${count(idle, "idle node")} now: ${rollCommand}` : "";
  return `${head} ${count(n)} in pool ${r.poolId} ${verb(n, "keep")} ${old} until ${they} ${n === 1 ? "reboots or is" : "reboot or are"} reimaged; nodes that join get ${r.version}.${roll}`;
}

/** `rebooted 2 nodes (tvmps_0, tvmps_1): they install 1.3.0; left 1 node that is not idle alone ...`. */
export function describeReboot(r: IdleReboot, version: string): string {
  const list = (items: string[]) => (items.length ? ` (${items.join(", ")})` : "");
  const they = (n: number) => (n === 1 ? "it" : "they");
  const done = r.rebooted.length;
  const parts = [
    done === 0
      ? `rebooted no node${r.failed.length === 0 ? ": none was idle" : ""}`
      : `rebooted ${count(done)}${list(r.rebooted)}: ${they(done)} ${verb(done, "install")} ${version}`,
  ];
  const busy = r.busy.length;
  if (busy) {
    parts.push(
      `left ${count(busy)} that ${busy === 1 ? "is" : "are"} not idle alone${list(r.busy.map((x) => `${x.id}: ${x.state}`))}: ${they(busy)} ${verb(busy, "get")} ${version} when rebooted or reimaged`,
    );
  }
  if (r.failed.length) {
    parts.push(
      `could not reboot ${count(r.failed.length)}${list(r.failed.map((f) => `${f.id}: ${f.error}`))}`,
    );
  }
  return `${parts.join("; ")}.`;
}
