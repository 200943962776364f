/**
 * The suite's stack as `hpc-batch plan` evaluates it: Pulumi.yaml defaults plus the fixture stack
 * tests/fixtures/stacks/Pulumi.ci.yaml (lib/plan/plan readStackConfig), the real program (index.ts)
 * under the simulated engine, and the plan's stand-ins for what Azure computes (lib/plan/planState).
 * Each call runs the program afresh in its own module registry, so a test can compare two runs,
 * or change a config value.
 *
 * Never the shipped Pulumi.dev.yaml: that file is the team's to edit (VM size, tags, formula),
 * and the suite must stay green when they do (tests/suiteHygiene.test.ts).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type * as pulumiModule from "@pulumi/pulumi";
import type * as configModule from "../../lib/core/config";
import type * as planModule from "../../lib/plan/plan";
import type * as planStateModule from "../../lib/plan/planState";
import type * as simulateModule from "../../lib/plan/simulate";
import type { Registration } from "../../lib/plan/simulate";

export const ROOT = path.join(__dirname, "..", "..");

/** The fixture stack's name: its config is tests/fixtures/stacks/Pulumi.ci.yaml. */
export const FIXTURE_STACK = "ci";
export const FIXTURE_STACK_FILE = path.join(
  ROOT,
  "tests",
  "fixtures",
  "stacks",
  `Pulumi.${FIXTURE_STACK}.yaml`,
);

/**
 * A project folder for the fixture stack: links to the project's own Pulumi.yaml, application
 * folder, node_modules and out/ (so the package and its reuse record are the ones `npm run plan`
 * makes), next to a link to the fixture's Pulumi.ci.yaml. `readStackConfig` and
 * `hpc-batch plan --project` take it as they take the real project. Only links, in a folder named
 * after this checkout in the temp directory (under `npm test`, the run's own folder, removed with
 * it): made once, reused by every test file.
 */
export function fixtureProject(): string {
  return linkFixtureProject(ROOT, os.tmpdir());
}

/** fixtureProject for the checkout at `root`, its link folder made in `tmpRoot`. */
export function linkFixtureProject(root: string, tmpRoot: string): string {
  const dir = path.join(
    tmpRoot,
    `hpc-batch-test-stack-${createHash("sha256").update(root).digest("hex").slice(0, 12)}`,
  );
  const stackFile = path.join(root, path.relative(ROOT, FIXTURE_STACK_FILE));
  const links: [string, string][] = [
    ["Pulumi.yaml", path.join(root, "Pulumi.yaml")],
    ["hpc-application", path.join(root, "hpc-application")],
    ["node_modules", path.join(root, "node_modules")],
    ["out", path.join(root, "out")],
    [path.basename(stackFile), stackFile],
  ];
  // On every call, not only when the links are made: a CI clones into the same path each run,
  // finds the previous run's link folder, and its fresh clone has no out/ yet (the `out` link
  // would dangle and `plan` fail with ENOENT until some other test had built a package).
  fs.mkdirSync(path.join(root, "out"), { recursive: true });
  const linked = (at: string) =>
    links.every(([name, to]) => {
      try {
        return fs.readlinkSync(path.join(at, name)) === to;
      } catch {
        return false;
      }
    });
  if (linked(dir)) return dir;
  // Built aside and renamed into place, so parallel jest workers never see half a folder.
  const tmp = fs.mkdtempSync(`${dir}.`);
  for (const [name, to] of links) fs.symlinkSync(to, path.join(tmp, name));
  for (let attempt = 1; ; attempt++) {
    try {
      fs.renameSync(tmp, dir);
      return dir;
    } catch (err) {
      if (linked(dir)) {
        fs.rmSync(tmp, { recursive: true, force: true }); // another worker made the same folder
        return dir;
      }
      if (attempt === 3) {
        fs.rmSync(tmp, { recursive: true, force: true });
        throw err;
      }
      // Stale links (a moved checkout, another link list): moved aside in one step, so a worker
      // racing this one finds either the stale folder or a complete one, never a missing one.
      const aside = `${dir}.stale-${process.pid}-${attempt}`;
      try {
        fs.renameSync(dir, aside);
        fs.rmSync(aside, { recursive: true, force: true });
      } catch {
        // another worker moved it aside first
      }
    }
  }
}

/** `hpc-batch plan` arguments for the fixture stack, writing into `outDir`. */
export function fixturePlanArgs(outDir: string): string[] {
  return ["plan", "--project", fixtureProject(), "--stack", FIXTURE_STACK, "--out-dir", outDir];
}

export interface StackOutput {
  value: unknown;
  secret: boolean;
}

export interface DevStackRun {
  registrations: Registration[];
  /** The program's exports, resolved, with whether each is a secret. */
  outputs: Record<string, StackOutput>;
}

export interface DevStackOptions {
  /** Overrides or adds config values, by full key (`hpc-batch:...`). */
  config?: Record<string, unknown>;
  /**
   * Serialize the dynamic provider as `pulumi up` does, so `__provider` holds the text Pulumi
   * would keep in state. Pulumi's closure serializer cannot follow modules inside a fresh jest
   * module registry, so such a run uses the test file's own registry: once per file.
   * Defaults to false: a fresh registry per run, as many runs as a test needs.
   */
  serializeDynamicProviders?: boolean;
}

/** Runs the fixture stack's program once and returns what it registered and exported. */
export async function simulateDevStack(opts: DevStackOptions = {}): Promise<DevStackRun> {
  let run: DevStackRun | undefined;
  const serialize = opts.serializeDynamicProviders === true;
  const isolate = serialize
    ? async (fn: () => Promise<void>) => fn()
    : (fn: () => Promise<void>) => jest.isolateModulesAsync(fn);
  await isolate(async () => {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const pulumi = require("@pulumi/pulumi") as typeof pulumiModule;
    const { parseStackConfig } = require("../../lib/core/config") as typeof configModule;
    const { readStackConfig } = require("../../lib/plan/plan") as typeof planModule;
    const { PlanState } = require("../../lib/plan/planState") as typeof planStateModule;
    const { simulate } = require("../../lib/plan/simulate") as typeof simulateModule;
    const stackConfig = readStackConfig(fixtureProject(), FIXTURE_STACK);
    const all = { ...stackConfig.config, ...opts.config };
    const standIns = new PlanState(parseStackConfig(all).location);
    const sim = simulate({
      project: stackConfig.project,
      stack: FIXTURE_STACK,
      config: all,
      secretKeys: stackConfig.secretKeys,
      id: (r) => standIns.id(r),
      state: (r) => standIns.state(r),
      call: (inv) => standIns.call(inv),
      serializeDynamicProviders: serialize,
    });
    const runProgram = require("../../index") as () => Promise<Record<string, unknown>>;
    /* eslint-enable @typescript-eslint/no-require-imports */
    const program = await runProgram(); // an async program, as Pulumi runs it
    await sim.settle();
    const outputs: Record<string, StackOutput> = {};
    for (const [name, v] of Object.entries(program)) {
      const out: pulumiModule.Output<unknown> = pulumi.output(v as pulumiModule.Input<unknown>);
      const [value, secret] = await Promise.all([
        new Promise<unknown>((resolve) => out.apply((x) => resolve(x))),
        pulumi.isSecret(out),
      ]);
      outputs[name] = { value, secret };
    }
    await sim.settle();
    run = { registrations: sim.registrations, outputs };
  });
  if (!run) throw new Error("the fixture stack did not run");
  return run;
}
