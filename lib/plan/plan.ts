/**
 * `hpc-batch plan`: what `pulumi up` would deploy, computed offline. It validates the stack's
 * config first (a bad key fails before anything else runs or is written), evaluates the real
 * program with the engine simulated in-process (lib/plan/simulate) and provider-computed values stood
 * in (lib/plan/planState), builds the application package as `hpc-batch package` does, runs the
 * policy pack, and writes `plan.json` and `plan.md` (lib/plan/document, lib/plan/render/).
 *
 * Two modes, by the project's Pulumi.yaml `name`: `hpc-batch` is hpc-batch's own stack (the
 * above). Any other name is another project's program that composes the components with its own
 * config keys and builds its own package (examples/hashfiles): its program (Pulumi.yaml `main`)
 * runs with the same engine, stand-ins and policies; its config is read as Pulumi reads it and
 * not validated further (its program's `config.require` does that); the plan's package, when the
 * program registers exactly one package version, is the zip that version publishes.
 *
 * Needs no Pulumi CLI, no cloud credentials and no network: pulumi/pulumi#12289 (preview without
 * credentials) is still open, and a fork's pull request has no secrets anyway.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { checkStackFileKeys, parseStackConfig, type StackSettings } from "../core/config";
import { InputError } from "../core/errors";
import { checkOutputDir, makeOutputDirSync } from "../core/outputDir";
import { diffPlans, type PlanDiff } from "./planDiff";
import { PACKAGE_VERSION_TYPE, PlanState, STAND_IN_SUBSCRIPTION } from "./planState";
import {
  assertNoSecrets,
  PLAN_FORMAT,
  planResource,
  PlanDocument,
  PlanOutput,
  PlanPackage,
  PlanPolicies,
  PlanViolation,
  redact,
  rolloutText,
  SECRET,
  STAND_IN_NOTE,
  stableOrder,
} from "./document";
import { renderJson } from "./render/json";
import { renderMarkdown } from "./render/markdown";
import { simulate, type Registration, type Simulation } from "./simulate";
import { preparePackage } from "../package/prepare";
import { inspectZip } from "../package/zipInspect";
import { projectProgram } from "./programLoader";
import {
  DEFAULT_VERSION_FIELD,
  withOneHistoryRead,
  type ResolvedVersion,
} from "../package/version";

/** The policy pack's offline runner (policy/runner.ts), injected by the CLI. */
export type PolicyRunner = (
  resources: Registration[],
  opts: { stack: string },
) => { violations: PlanViolation[] };

/** The stand-in value given to a `secure:` config value (the plan cannot decrypt it). */
export const SECURE_CONFIG_STAND_IN = "plan-stand-in-secret-value";

export interface StackConfig {
  project: string;
  /** Full keys (`hpc-batch:pool`) to values: Pulumi.yaml defaults, then the stack's values. */
  config: Record<string, unknown>;
  /** Keys whose stack value is `secure:` (encrypted). */
  secretKeys: string[];
}

function readYaml(file: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new InputError(
      path.basename(file),
      "(file)",
      `must be valid YAML: ${(err as Error).message}`,
    );
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) {
    throw new InputError(path.basename(file), doc, "must be a YAML mapping");
  }
  return doc as Record<string, unknown>;
}

/**
 * Reads Pulumi.yaml and Pulumi.<stack>.yaml as the Pulumi CLI does for config: a project key
 * without a namespace belongs to the project; a declared key's `default` applies unless the stack
 * sets the key; a `secure:` stack value is a secret (stood in: the plan cannot decrypt it).
 */
export function readStackConfig(root: string, stack: string): StackConfig {
  const projectFile = path.join(root, "Pulumi.yaml");
  if (!fs.existsSync(projectFile)) {
    throw new InputError("project", root, "must be a folder holding Pulumi.yaml");
  }
  const project = readYaml(projectFile);
  const name = project.name;
  if (typeof name !== "string" || name === "") {
    throw new InputError("Pulumi.yaml name", name, "must be the project's name");
  }
  const stackFile = path.join(root, `Pulumi.${stack}.yaml`);
  if (!/^[A-Za-z0-9_.-]+$/.test(stack) || !fs.existsSync(stackFile)) {
    throw new InputError(
      "--stack",
      stack,
      `must name a stack with a Pulumi.${stack}.yaml in ${root}`,
    );
  }
  const full = (k: string) => (k.includes(":") ? k : `${name}:${k}`);
  const config: Record<string, unknown> = {};
  for (const [k, decl] of Object.entries((project.config ?? {}) as Record<string, unknown>)) {
    const isDeclaration =
      decl !== null &&
      typeof decl === "object" &&
      !Array.isArray(decl) &&
      ("type" in decl || "default" in decl || "description" in decl);
    if (!isDeclaration) config[full(k)] = decl;
    else if ("default" in (decl as object))
      config[full(k)] = (decl as { default: unknown }).default;
  }
  const secretKeys: string[] = [];
  const stackDoc = readYaml(stackFile);
  // `configs:` instead of `config:` would drop every setting silently (the CLI ignores it).
  checkStackFileKeys(stackDoc, `Pulumi.${stack}.yaml`);
  for (const [k, v] of Object.entries((stackDoc.config ?? {}) as Record<string, unknown>)) {
    const secure =
      v !== null &&
      typeof v === "object" &&
      !Array.isArray(v) &&
      Object.keys(v).length === 1 &&
      "secure" in v;
    config[full(k)] = secure ? SECURE_CONFIG_STAND_IN : v;
    if (secure) secretKeys.push(full(k));
  }
  return { project: name, config, secretKeys: secretKeys.sort() };
}

/** The folder holding hpc-batch's package.json, from this module's location (lib/ or dist/lib/). */
export function packageRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, "package.json");
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, "utf8")).name === "hpc-batch")
      return dir;
    if (path.dirname(dir) === dir) throw new Error(`no hpc-batch package.json above ${from}`);
  }
}

/** The program to evaluate: the compiled `dist/index.js` when running compiled, else `index.ts`. */
export function defaultProgram(root: string): string {
  return __filename.endsWith(".ts")
    ? path.join(root, "index.ts")
    : path.join(root, "dist", "index.js");
}

export interface PlanOptions {
  /** Folder with Pulumi.yaml and the stack files. Defaults to the package root. */
  root?: string;
  stack: string;
  /** Where plan.json and plan.md go. */
  outDir: string;
  /** The Pulumi program. Defaults to hpc-batch's own (`defaultProgram(packageRoot())`). */
  program?: string;
  /** The policy pack's runner; without one the plan says the policies did not run. */
  policies?: PolicyRunner;
  /** Why there is no policy runner (shown in the plan). */
  policiesNote?: string;
  /** A base plan (`--against`): the renderings then lead with what changes against it. */
  against?: PlanDocument;
}

/** The Pulumi.yaml name of hpc-batch's own stack; any other project plans in `project` mode. */
export const HPC_BATCH_PROJECT = "hpc-batch";

/**
 * `hpc-batch`: hpc-batch's stack, its config validated and its package built by the plan.
 * `project`: another project's own program, config as Pulumi reads it, package as it builds it.
 */
export type PlanMode = "hpc-batch" | "project";

export interface PlanResult {
  mode: PlanMode;
  /** The program that ran, relative to the project folder (POSIX separators). */
  program: string;
  doc: PlanDocument;
  markdown: string;
  json: string;
  files: { json: string; markdown: string };
  /** Milliseconds per phase, in order. */
  timings: [string, number][];
  /** How many mandatory policy violations there are (the plan is written all the same). */
  mandatoryViolations: number;
  /** The changes against `against`, when given. */
  diff?: PlanDiff;
}

/** Resolves a program export to a plain value, noting whether it is secret. */
async function resolveExport(v: unknown): Promise<{ value: unknown; secret: boolean }> {
  const out: pulumi.Output<unknown> = pulumi.output(v);
  // `promise()` (internal to @pulumi/pulumi, what `apply` builds on) also rejects when the value
  // failed, where `apply` would never call back.
  const internal = out as unknown as { promise(withUnknowns?: boolean): Promise<unknown> };
  const [value, secret] = await Promise.all([internal.promise(), pulumi.isSecret(out)]);
  return { value, secret };
}

/**
 * Runs the program under the simulated engine; a failure anywhere in it (a constructor that
 * throws, an apply or an invoke that fails, which Pulumi reports as unhandled rejections) becomes
 * one error naming the first cause, instead of a crash.
 */
async function evaluateProgram(
  program: string,
  root: string,
  sim: Simulation,
  state: PlanState,
): Promise<Record<string, { value: unknown; secret: boolean }>> {
  const failures: unknown[] = [];
  const onRejection = (err: unknown) => failures.push(err);
  process.on("unhandledRejection", onRejection);
  const outputs: Record<string, { value: unknown; secret: boolean }> = {};
  // Pulumi runs a program in its project folder; relative paths in config (the package folder)
  // mean the same here.
  const cwd = process.cwd();
  process.chdir(root);
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const loaded = require(program) as unknown;
    // An async program (`export = async () => outputs`, as index.ts) is run as Pulumi runs it.
    const programExports = (
      typeof loaded === "function" ? await (loaded as () => Promise<unknown>)() : loaded
    ) as Record<string, unknown>;
    await sim.settle();
    for (const [k, v] of Object.entries(programExports)) {
      if (typeof v !== "function") outputs[k] = await resolveExport(v);
    }
    await sim.settle();
  } catch (err) {
    failures.push(err);
  } finally {
    process.chdir(cwd);
  }
  // After a failure the engine may still reject promises it chained to it: keep swallowing those
  // (the first cause is reported below) rather than let them crash the process.
  if (failures.length === 0 && state.errors.length === 0) {
    process.off("unhandledRejection", onRejection);
  }
  // Stand-in failures first: they name what the plan lacks, the others only their symptoms.
  const first = state.errors[0] ?? failures[0];
  if (first instanceof InputError) throw first;
  if (first !== undefined) {
    throw new Error(
      `the program failed under the simulated engine: ${(first as Error).message ?? String(first)}`,
    );
  }
  return outputs;
}

/** The version a plan shows when the history cannot give one (a shallow clone, no git). */
export const UNVERSIONED = "0.0.0-unversioned";

/** Runs the plan; see the module comment. Throws InputError for bad config, before any work. */
export function runPlan(opts: PlanOptions): Promise<PlanResult> {
  // The plan's package and the program both resolve the version: one git read serves both.
  return withOneHistoryRead(() => plan(opts));
}

async function plan(opts: PlanOptions): Promise<PlanResult> {
  // Before any work: a plan that cannot be written must not build a package first.
  checkOutputDir(opts.outDir, "--out-dir", opts.outDir);
  const root = opts.root ?? packageRoot();
  const timings: [string, number][] = [];
  let mark = performance.now();
  const phase = (name: string) => {
    const t = performance.now();
    timings.push([name, t - mark]);
    mark = t;
  };

  // 1. Config: read and validate before anything else.
  const stackConfig = readStackConfig(root, opts.stack);
  if (stackConfig.project !== HPC_BATCH_PROJECT)
    return planProject(opts, root, stackConfig, phase, timings);
  const settings: StackSettings = parseStackConfig(stackConfig.config, {
    secretKeys: stackConfig.secretKeys,
  });
  phase("config");

  // 2. The application package, before the program so that its problems surface as themselves:
  //    staged (`hpc-batch stage`, idempotent), versioned and built as the program does it, into
  //    the same `out/` (the program then reuses the zip): its sha256 is the one a deployment
  //    publishes. Where the history cannot give a version (a shallow CI clone without the release
  //    tag, no git), a deployment refuses; a plan is a preview, so it goes on with `UNVERSIONED`
  //    and says why, instead of failing a pull request's check.
  const app = settings.application;
  const folder = path.resolve(root, app.folder);
  const { staged, resolved, built } = await preparePackage({
    folder,
    folderField: "hpc-batch:applicationFolder",
    resolveFrom: [folder, root],
    version: app.version,
    unversioned: UNVERSIONED,
    applicationId: app.id,
    outDir: path.join(root, "out"),
    // Not a setting the user gave: the project's own out/ folder, named as such.
    outDirField: "the project's out/ folder",
  });
  const pkg: PlanPackage = {
    applicationId: built.applicationId,
    version: built.version,
    versionSource: versionSource(resolved),
    file: path.basename(built.path),
    sha256: built.sha256,
    bytes: built.bytes,
    files: built.files,
    staged: staged.map((f) => ({ to: f.to, from: f.from })),
  };
  phase("package");

  // 3. The program, simulated with stand-ins.
  const state = new PlanState(settings.location);
  const sim = simulate({
    project: stackConfig.project,
    stack: opts.stack,
    // A version the plan had to stand in for (no history here) reaches the program as config.
    config: resolved.fallback
      ? { ...stackConfig.config, [DEFAULT_VERSION_FIELD]: resolved.version }
      : stackConfig.config,
    secretKeys: stackConfig.secretKeys,
    id: (r) => state.id(r),
    state: (r) => state.state(r),
    call: (inv) => state.call(inv),
    // The plan never uses a dynamic provider's code; serializing it only costs time.
    serializeDynamicProviders: false,
  });
  const program = opts.program ?? defaultProgram(packageRoot());
  const outputs = await evaluateProgram(program, root, sim, state);
  pkg.rollout = rolloutText(sim.registrations);
  phase("program");

  return finish(opts, root, stackConfig, { sim, state, outputs, pkg }, phase, timings, {
    mode: "hpc-batch",
    program,
  });
}

/** `project` mode (see the module comment): another project's program, as it is. */
async function planProject(
  opts: PlanOptions,
  root: string,
  stackConfig: StackConfig,
  phase: (name: string) => void,
  timings: [string, number][],
): Promise<PlanResult> {
  phase("config");
  const location = stackConfig.config["azure-native:location"];
  // Without `azure-native:location` the stand-ins name no region (a resource that needs one
  // fails under Pulumi all the same).
  const state = new PlanState(typeof location === "string" ? location : "no-location");
  const sim = simulate({
    project: stackConfig.project,
    stack: opts.stack,
    config: stackConfig.config,
    secretKeys: stackConfig.secretKeys,
    id: (r) => state.id(r),
    state: (r) => state.state(r),
    call: (inv) => state.call(inv),
    serializeDynamicProviders: false,
  });
  const program = opts.program ?? projectProgram(root);
  const outputs = await evaluateProgram(program, root, sim, state);
  phase("program");
  const pkg = await registeredPackage(sim.registrations);
  phase("package");
  return finish(opts, root, stackConfig, { sim, state, outputs, pkg }, phase, timings, {
    mode: "project",
    program,
  });
}

/**
 * The package a program publishes, from its one package version registration (its inputs name the
 * zip): undefined when it registers none or several.
 */
async function registeredPackage(
  registrations: readonly Registration[],
): Promise<PlanPackage | undefined> {
  const versions = registrations.filter((r) => r.type === PACKAGE_VERSION_TYPE);
  if (versions.length !== 1) return undefined;
  const i = versions[0].inputs;
  const zip = String(i.packagePath);
  const listing = await inspectZip(zip);
  return {
    applicationId: String(i.applicationId),
    version: String(i.version),
    versionSource: "set by the program",
    file: path.basename(zip),
    sha256: String(i.sha256),
    bytes: listing.bytes,
    files: listing.files,
    staged: [],
    rollout: rolloutText([...registrations]),
  };
}

/** What the program left, for the policies and the documents. */
interface Evaluated {
  sim: Simulation;
  state: PlanState;
  outputs: Record<string, { value: unknown; secret: boolean }>;
  pkg: PlanPackage | undefined;
}

/** Policies, documents and files: the same in both modes. */
async function finish(
  opts: PlanOptions,
  root: string,
  stackConfig: StackConfig,
  { sim, state, outputs, pkg }: Evaluated,
  phase: (name: string) => void,
  timings: [string, number][],
  ran: { mode: PlanMode; program: string },
): Promise<PlanResult> {
  // 4. Policies.
  let policies: PlanPolicies;
  if (opts.policies) {
    const { violations } = opts.policies(sim.registrations, { stack: opts.stack });
    policies = {
      ran: true,
      violations: violations.map((v) => ({
        policy: v.policy,
        level: v.level,
        urn: v.urn,
        message: v.message,
      })),
    };
  } else {
    policies = { ran: false, note: opts.policiesNote ?? "no policy pack", violations: [] };
  }
  phase("policies");

  // 5. The documents.
  const standInValues = state.values();
  const planOutputs: Record<string, PlanOutput> = {};
  for (const [k, o] of Object.entries(outputs)) {
    const text = JSON.stringify(o.value) ?? "";
    planOutputs[k] = {
      value: o.secret ? SECRET : redact(o.value, k),
      secret: o.secret,
      standIn: standInValues.some((s) => text.includes(s)),
    };
  }
  const config: Record<string, unknown> = {};
  for (const k of Object.keys(stackConfig.config).sort()) {
    config[k] = stackConfig.secretKeys.includes(k) ? SECRET : redact(stackConfig.config[k], k);
  }
  const doc: PlanDocument = {
    format: PLAN_FORMAT,
    project: stackConfig.project,
    stack: opts.stack,
    config,
    resources: stableOrder(sim.registrations).map((r) => {
      const res = planResource(r, state.of(r.type, r.name), (id) => state.describe(id));
      return { ...res, inputs: withinProject(res.inputs, root) as Record<string, unknown> };
    }),
    outputs: planOutputs,
    ...(pkg ? { package: pkg } : {}),
    policies,
    standIns: { subscriptionId: STAND_IN_SUBSCRIPTION, note: STAND_IN_NOTE },
  };
  const diff = opts.against ? diffPlans(opts.against, doc) : undefined;
  const json = renderJson(doc);
  const markdown = renderMarkdown(doc, diff);
  const secrets = [
    SECURE_CONFIG_STAND_IN,
    ...Object.values(outputs)
      .filter((o) => o.secret)
      .flatMap((o) => secretStrings(o.value)),
    ...sim.registrations.flatMap((r) => r.secretInputs.flatMap((k) => secretStrings(r.inputs[k]))),
  ];
  assertNoSecrets(json, secrets);
  assertNoSecrets(markdown, secrets);
  makeOutputDirSync(opts.outDir, "--out-dir", opts.outDir);
  const files = {
    json: path.join(opts.outDir, "plan.json"),
    markdown: path.join(opts.outDir, "plan.md"),
  };
  fs.writeFileSync(files.json, json);
  fs.writeFileSync(files.markdown, markdown);
  phase("write");

  const mandatoryViolations = policies.violations.filter((v) => v.level === "mandatory").length;
  const program = path.relative(root, ran.program).split(path.sep).join("/");
  return {
    mode: ran.mode,
    program,
    doc,
    json,
    markdown,
    files,
    timings,
    mandatoryViolations,
    ...(diff ? { diff } : {}),
  };
}

/**
 * Paths inside the project as project-relative POSIX paths (the package zip's `packagePath`), so
 * the same commit plans to the same bytes in any checkout.
 */
export function withinProject(value: unknown, root: string): unknown {
  if (typeof value === "string") {
    const rel = path.relative(root, value);
    return path.isAbsolute(value) && !rel.startsWith("..") && !path.isAbsolute(rel)
      ? rel.split(path.sep).join("/")
      : value;
  }
  if (Array.isArray(value)) return value.map((v) => withinProject(v, root));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = withinProject(v, root);
    return out;
  }
  return value;
}

/** The strings inside a secret value (what must never reach a rendering). */
function secretStrings(v: unknown): string[] {
  if (typeof v === "string") return [v];
  if (typeof v === "number") return [String(v)];
  if (Array.isArray(v)) return v.flatMap(secretStrings);
  if (v && typeof v === "object") return Object.values(v).flatMap(secretStrings);
  return [];
}

/** Where the package version came from, for the plan. */
export function versionSource(v: ResolvedVersion & { fallback?: string }): string {
  if (v.fallback)
    return `not computable here, shown as ${UNVERSIONED}: ${DEFAULT_VERSION_FIELD} ${v.fallback}`;
  if (v.source === "config") return "stack config";
  const since = v.tag ? `since ${v.tag}` : "and no release tag yet";
  return `computed from git: ${v.commits} commit(s) ${since}${v.dirty ? ", uncommitted changes not counted" : ""}`;
}
