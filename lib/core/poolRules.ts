/**
 * The pool rules, one copy shared by the stack config (`hpc-batch:pool`, lib/core/config.ts), the
 * `BatchPool` component's args (components/pool.ts) and the policy pack (the retired node
 * agents), so they never disagree. Each `*_RULE` is the rule's text in its error message.
 */
import { InputError } from "./errors";
import { collect, isPlainObject, isWhole, unknownKeys, type IsKnown } from "./validate";

export const VM_SIZE_RULE =
  "must be an Azure VM size such as \"Standard_D2s_v5\" ('Standard_' then letters, digits and '_')";
export const NODE_COUNT_RULE = "must be a whole number, 0 or more";
export const TASK_SLOTS_RULE =
  "must be a whole number from 1 to 256 (Batch also caps it at 4 times the VM size's cores)";
export const AUTOSCALE_FORMULA_RULE =
  "must be a non-empty autoscale formula of at most 8 KB (8192 bytes)";
export const AUTOSCALE_INTERVAL_RULE =
  'must be an ISO 8601 duration from PT5M to PT168H, e.g. "PT5M" or "PT1H"';
export const NODE_AGENT_RULE =
  'must be a Batch node agent SKU id such as "batch.node.ubuntu 24.04"';
export const RETIRED_NODE_AGENT_RULE =
  'the CentOS, Debian and Ubuntu 14.04 to 20.04 node agents are retired by Azure Batch; use "batch.node.ubuntu 24.04"';
export const IMAGE_RULE =
  "must be an object with publisher, offer, sku and version, e.g. {publisher: canonical, offer: ubuntu-24_04-lts, sku: server, version: latest}";
export const IMAGE_FIELD_RULE = "must be a non-empty string";
export const RETIRED_IMAGE_RULE =
  "Ubuntu 18.04 and 20.04 images are retired; use canonical/ubuntu-24_04-lts/server/latest";
export const CUSTOM_IMAGE_RULE =
  "must be an Azure Compute Gallery image id: /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Compute/galleries/<gallery>/images/<image>[/versions/<version>]";
export const START_TASK_RULE =
  "must be an object with a commandLine and optionally waitForSuccess and runElevated";
export const COMMAND_LINE_RULE =
  "must be a non-empty command line (it is not run in a shell: wrap it in /bin/sh -c '...' to use one)";
export const BOOLEAN_RULE = "must be true or false";
export const SCALE_EXCLUSIVE_RULE =
  "only one of [dedicatedNodes, spotNodes] and [autoScaleFormula, autoScaleEvaluationInterval] can be specified: a pool has either a fixed scale or an autoscale formula";
export const INTERVAL_NEEDS_FORMULA_RULE =
  "needs autoScaleFormula: the evaluation interval only applies to an autoscaled pool";
export const IMAGE_EXCLUSIVE_RULE = "only one of [image] and [customImageId] can be specified";

/** The settings of `hpc-batch:pool` (and the matching `BatchPool` args). */
export const POOL_SETTING_KEYS = [
  "vmSize",
  "dedicatedNodes",
  "spotNodes",
  "autoScaleFormula",
  "autoScaleEvaluationInterval",
  "taskSlotsPerNode",
  "image",
  "customImageId",
  "nodeAgentSkuId",
  "startTask",
] as const;
const IMAGE_KEYS = ["publisher", "offer", "sku", "version"] as const;
const START_TASK_KEYS = ["commandLine", "waitForSuccess", "runElevated"] as const;

const VM_SIZE_RE = /^standard_[a-z0-9_]+$/i;
const GALLERY_IMAGE_RE =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Compute\/galleries\/[^/]+\/images\/[^/]+(\/versions\/[^/]+)?$/i;
const ISO_DURATION_RE = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/**
 * Node agents Azure Batch has retired, the one list config and the policy pack
 * (`pool-supported-node-agent`) both use: Azure/Batch#180 (CentOS 7/8, Debian 8/9/10, Ubuntu
 * 14.04, 16.04, 18.04; no new pools after 31 December 2024) and Azure/Batch#174 (Ubuntu 20.04,
 * after 23 April 2025). `batch.node.ubuntu 22.04` ends on 30 June 2027 (Azure/Batch#200): add it
 * then. Lower case, single spaces: compare with `isRetiredNodeAgent`.
 */
export const RETIRED_NODE_AGENTS: readonly string[] = [
  "batch.node.centos 7",
  "batch.node.centos 8",
  "batch.node.debian 8",
  "batch.node.debian 9",
  "batch.node.debian 10",
  "batch.node.ubuntu 14.04",
  "batch.node.ubuntu 16.04",
  "batch.node.ubuntu 18.04",
  "batch.node.ubuntu 20.04",
];

/** True for a retired node agent, however it is cased or spaced ("Batch.Node.CentOS  7"). */
export function isRetiredNodeAgent(agent: string): boolean {
  return RETIRED_NODE_AGENTS.includes(agent.trim().replace(/\s+/g, " ").toLowerCase());
}

/** Seconds in an ISO 8601 duration of days, hours, minutes and seconds; undefined if malformed. */
export function isoDurationSeconds(text: string): number | undefined {
  const m = ISO_DURATION_RE.exec(text);
  if (!m || text === "P" || text.endsWith("T")) return undefined;
  const [, d, h, min, s] = m;
  return Number(d ?? 0) * 86400 + Number(h ?? 0) * 3600 + Number(min ?? 0) * 60 + Number(s ?? 0);
}

export function validateVmSize(field: string, value: unknown): string {
  if (typeof value !== "string" || !VM_SIZE_RE.test(value))
    throw new InputError(field, value, VM_SIZE_RULE);
  return value;
}

export function validateNodeCount(field: string, value: unknown): number {
  if (!isWhole(value, 0)) throw new InputError(field, value, NODE_COUNT_RULE);
  return value;
}

export function validateTaskSlotsPerNode(field: string, value: unknown): number {
  if (!isWhole(value, 1, 256)) throw new InputError(field, value, TASK_SLOTS_RULE);
  return value;
}

export function validateAutoScaleFormula(field: string, value: unknown): string {
  if (typeof value !== "string" || value.trim() === "" || Buffer.byteLength(value, "utf8") > 8192)
    throw new InputError(field, value, AUTOSCALE_FORMULA_RULE);
  return value;
}

export function validateAutoScaleEvaluationInterval(field: string, value: unknown): string {
  const seconds = typeof value === "string" ? isoDurationSeconds(value) : undefined;
  if (seconds === undefined || seconds < 5 * 60 || seconds > 168 * 3600)
    throw new InputError(field, value, AUTOSCALE_INTERVAL_RULE);
  return value as string;
}

export function validateNodeAgentSkuId(field: string, value: unknown): string {
  if (typeof value !== "string" || !/^batch\.node\.\S/.test(value))
    throw new InputError(field, value, NODE_AGENT_RULE);
  if (isRetiredNodeAgent(value)) throw new InputError(field, value, RETIRED_NODE_AGENT_RULE);
  return value;
}

export function validateCustomImageId(field: string, value: unknown): string {
  if (typeof value !== "string" || !GALLERY_IMAGE_RE.test(value))
    throw new InputError(field, value, CUSTOM_IMAGE_RULE);
  return value;
}

/** The node agent a pool gets when config names none (the BatchPool component's default). */
export const DEFAULT_NODE_AGENT_SKU_ID = "batch.node.ubuntu 24.04";

/**
 * The Ubuntu release of a Canonical marketplace image ("24.04"), or undefined when the image is
 * not one hpc-batch can tell: `ubuntu-24_04-lts` / `ubuntu-22_04-lts` style offers and the older
 * `0001-com-ubuntu-server-jammy` naming.
 */
export function ubuntuReleaseOf(image: Record<string, unknown>): string | undefined {
  const lower = (k: string) =>
    (typeof image[k] === "string" ? (image[k] as string) : "").toLowerCase();
  if (lower("publisher") !== "canonical") return undefined;
  const m = /^ubuntu-(\d\d)_(\d\d)-lts/.exec(lower("offer"));
  if (m) return `${m[1]}.${m[2]}`;
  if (/jammy/.test(lower("offer"))) return "22.04";
  if (/noble/.test(lower("offer"))) return "24.04";
  return undefined;
}

/** True for Canonical's Ubuntu 18.04 (bionic) and 20.04 (focal) marketplace images. */
function isRetiredImage(image: Record<string, unknown>): boolean {
  const lower = (k: string) =>
    (typeof image[k] === "string" ? (image[k] as string) : "").toLowerCase();
  if (lower("publisher") !== "canonical") return false;
  return (
    lower("offer") === "ubuntuserver" ||
    /bionic|focal/.test(lower("offer")) ||
    /^(18|20)[._]04/.test(lower("sku"))
  );
}

const always: IsKnown = () => true;

function checkImage(field: string, image: unknown, isKnown: IsKnown): InputError[] {
  if (!isKnown(image)) return [];
  if (!isPlainObject(image)) return [new InputError(field, image, IMAGE_RULE)];
  const errors = unknownKeys(field, image, IMAGE_KEYS, "image");
  for (const k of IMAGE_KEYS) {
    const v = image[k];
    if (isKnown(v) && (typeof v !== "string" || v.trim() === ""))
      errors.push(new InputError(`${field}.${k}`, v, IMAGE_FIELD_RULE));
  }
  if (errors.length === 0 && isRetiredImage(image))
    errors.push(new InputError(field, image, RETIRED_IMAGE_RULE));
  return errors;
}

function checkStartTask(field: string, task: unknown, isKnown: IsKnown): InputError[] {
  if (!isKnown(task)) return [];
  if (!isPlainObject(task)) return [new InputError(field, task, START_TASK_RULE)];
  const errors = unknownKeys(field, task, START_TASK_KEYS, "startTask");
  const { commandLine, waitForSuccess, runElevated } = task;
  if (isKnown(commandLine) && (typeof commandLine !== "string" || commandLine.trim() === ""))
    errors.push(new InputError(`${field}.commandLine`, commandLine, COMMAND_LINE_RULE));
  for (const [k, v] of [
    ["waitForSuccess", waitForSuccess],
    ["runElevated", runElevated],
  ] as const) {
    if (v !== undefined && isKnown(v) && typeof v !== "boolean")
      errors.push(new InputError(`${field}.${k}`, v, BOOLEAN_RULE));
  }
  return errors;
}

/**
 * Checks a pool spec (the `hpc-batch:pool` object, or a `BatchPool`'s args) and returns every
 * problem. `prefix` is prepended to each setting name, e.g. `hpc-batch:pool.`. Values for which
 * `isKnown` is false are only checked for presence (mutually exclusive settings).
 */
export function checkPoolSpec(
  prefix: string,
  spec: Partial<Record<(typeof POOL_SETTING_KEYS)[number], unknown>>,
  isKnown: IsKnown = always,
): InputError[] {
  const errors: InputError[] = [];
  const field = (k: string) => `${prefix}${k}`;
  const known = (v: unknown) => v !== undefined && isKnown(v);
  const shown = (v: unknown) => (isKnown(v) ? v : "<computed>");
  const single: [keyof typeof spec, (f: string, v: unknown) => unknown][] = [
    ["vmSize", validateVmSize],
    ["dedicatedNodes", validateNodeCount],
    ["spotNodes", validateNodeCount],
    ["autoScaleFormula", validateAutoScaleFormula],
    ["autoScaleEvaluationInterval", validateAutoScaleEvaluationInterval],
    ["taskSlotsPerNode", validateTaskSlotsPerNode],
    ["customImageId", validateCustomImageId],
    ["nodeAgentSkuId", validateNodeAgentSkuId],
  ];
  for (const [k, validate] of single) {
    if (known(spec[k])) collect(errors, () => validate(field(k), spec[k]));
  }
  if (spec.image !== undefined) errors.push(...checkImage(field("image"), spec.image, isKnown));
  if (spec.startTask !== undefined)
    errors.push(...checkStartTask(field("startTask"), spec.startTask, isKnown));

  const fixed = spec.dedicatedNodes !== undefined || spec.spotNodes !== undefined;
  if (fixed && spec.autoScaleFormula !== undefined)
    errors.push(
      new InputError(field("autoScaleFormula"), shown(spec.autoScaleFormula), SCALE_EXCLUSIVE_RULE),
    );
  if (spec.autoScaleEvaluationInterval !== undefined && spec.autoScaleFormula === undefined)
    errors.push(
      new InputError(
        field("autoScaleEvaluationInterval"),
        shown(spec.autoScaleEvaluationInterval),
        INTERVAL_NEEDS_FORMULA_RULE,
      ),
    );
  // Batch refuses a pool whose node agent does not fit its image; say so before deploying.
  if (known(spec.image) && typeof spec.image === "object" && spec.image !== null) {
    const release = ubuntuReleaseOf(spec.image as Record<string, unknown>);
    const agent =
      spec.nodeAgentSkuId === undefined ? DEFAULT_NODE_AGENT_SKU_ID : spec.nodeAgentSkuId;
    if (release !== undefined && isKnown(agent) && typeof agent === "string") {
      const wanted = `batch.node.ubuntu ${release}`;
      if (agent.trim().replace(/\s+/g, " ").toLowerCase() !== wanted) {
        const which = spec.nodeAgentSkuId === undefined ? `the default "${agent}"` : `"${agent}"`;
        errors.push(
          new InputError(
            field("nodeAgentSkuId"),
            spec.nodeAgentSkuId,
            `must match the image: Ubuntu ${release} runs with node agent "${wanted}", not ${which}`,
          ),
        );
      }
    }
  }
  if (spec.image !== undefined && spec.customImageId !== undefined)
    errors.push(
      new InputError(field("customImageId"), shown(spec.customImageId), IMAGE_EXCLUSIVE_RULE),
    );
  return errors;
}
