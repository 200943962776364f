/**
 * A suite a team can keep as its CI (issue 10):
 * - no test reads the shipped stack config (Pulumi.dev.yaml): a team edits its VM size, tags,
 *   autoscale formula or promote mode there and keeps a green suite. Tests that need a stack use
 *   the fixture stack tests/fixtures/stacks/Pulumi.ci.yaml (tests/support/devStack.ts);
 * - no test bounds wall time: a busy machine (a shared 2-core CI runner) is slower, not wrong.
 * Both are checked on the test sources, so a new test that breaks the rule fails here by name.
 * - a run leaves nothing in the temp directory: `npm test` gives it a folder of its own, removed
 *   at the end, and removes the folders of runs that were killed (scripts/runDir.js).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as inspector from "node:inspector";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import {
  FIXTURE_STACK,
  FIXTURE_STACK_FILE,
  fixtureProject,
  linkFixtureProject,
} from "./support/devStack";
import { parseStackConfig } from "../lib/core/config";
import { readStackConfig } from "../lib/plan/plan";

const TESTS = __dirname;

/**
 * Test files that may still read the shipped dev stack, each with the reason. Keep it empty: a
 * test that only needs "a stack" takes the fixture.
 */
const READS_DEV_STACK_ALLOWED: Record<string, string> = {};

/** Every TypeScript file under tests/, but the fixtures (data, not tests). */
function testSources(): string[] {
  return fs
    .readdirSync(TESTS, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts") && !f.startsWith(`fixtures${path.sep}`))
    .map((f) => f.split(path.sep).join("/"))
    .sort();
}

/** The code without comments (`//` at a line's start or after a space, and block comments). */
function code(file: string): string {
  return fs
    .readFileSync(path.join(TESTS, file), "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/(^|\s)\/\/.*$/gm, "$1");
}

/** What makes a test read the shipped dev stack's config. */
const READS_DEV_STACK: [string, RegExp][] = [
  // As a file to read, copy or join into a path (a message may still name it).
  [
    "opens Pulumi.dev.yaml",
    /\b(?:read\w*|exists\w*|copy\w*|cp\w*|stat\w*|open\w*|join|resolve)\([^;]*?Pulumi\.dev\.yaml/,
  ],
  ["reads the dev stack's config", /readStackConfig\([^)]*["'`]dev["'`]\s*\)/],
  ["plans the dev stack", /runPlan\(\{[^}]*\bstack:\s*["'`]dev["'`]/],
  // `hpc-batch plan --stack dev` without --project reads the checkout's Pulumi.dev.yaml.
  [
    "runs `hpc-batch plan --stack dev` on the project's own stack files",
    /(?:\bplan\(\s*\[|\[\s*["'`]plan["'`],)(?:(?!--project)[^\]])*["'`]--stack["'`],\s*["'`]dev["'`](?:(?!--project)[^\]])*\]/,
  ],
  ["runs `npm run plan`", /["'`]run["'`],\s*(?:["'`]--silent["'`],\s*)?["'`]plan["'`]/],
];

/** An upper bound on a measured duration: passes on an idle machine, fails on a busy one. */
const BOUNDS_WALL_TIME =
  /expect\([^;]*?(?:Date\.now\(\)|performance\.now\(\)|hrtime|durationMs|elapsed\w*)[^;]*?\)\s*\.toBeLessThan(?:OrEqual)?\(/;

test("the scan sees the whole suite, this file and the fixture stack's users among it", () => {
  const files = testSources();
  expect(files.length).toBeGreaterThan(50);
  for (const f of [
    "suiteHygiene.test.ts",
    "index.test.ts",
    "support/devStack.ts",
    "policy/devStack.test.ts",
  ]) {
    expect([f, files.includes(f)]).toEqual([f, true]);
  }
});

test("no test reads the shipped Pulumi.dev.yaml (tests use tests/fixtures/stacks)", () => {
  const found = testSources()
    .filter((f) => f !== "suiteHygiene.test.ts" && !(f in READS_DEV_STACK_ALLOWED))
    .flatMap((f) => {
      const text = code(f);
      return READS_DEV_STACK.filter(([, re]) => re.test(text)).map(([what]) => `${f}: ${what}`);
    });
  expect(found).toEqual([]);
});

test("the patterns catch what they are meant to catch", () => {
  const hits = (text: string) =>
    READS_DEV_STACK.filter(([, re]) => re.test(text)).map(([what]) => what);
  expect(hits('readYaml("Pulumi.dev.yaml")')).toEqual(["opens Pulumi.dev.yaml"]);
  expect(hits('fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")')).toEqual([
    "opens Pulumi.dev.yaml",
  ]);
  expect(hits('checkStackFileKeys(doc, "Pulumi.dev.yaml")')).toEqual([]);
  expect(hits('readStackConfig(ROOT, "dev")')).toEqual(["reads the dev stack's config"]);
  expect(hits('runPlan({ stack: "dev", outDir })')).toEqual(["plans the dev stack"]);
  expect(hits('plan(["--stack", "dev", "--out-dir", out()])')).toEqual([
    "runs `hpc-batch plan --stack dev` on the project's own stack files",
  ]);
  expect(hits('runCli(["plan", "--out-dir", o, "--stack", "dev"])')).toEqual([
    "runs `hpc-batch plan --stack dev` on the project's own stack files",
  ]);
  expect(hits('runCli(["plan", "--project", p, "--stack", "dev"])')).toEqual([]);
  expect(hits('runCli(["verify", "--stack", "dev", "--outputs", file])')).toEqual([]);
  expect(hits('spawnSync("npm", ["run", "plan"])')).toEqual(["runs `npm run plan`"]);
  expect(BOUNDS_WALL_TIME.test("expect(r.durationMs).toBeLessThan(5000);")).toBe(true);
  expect(BOUNDS_WALL_TIME.test("expect(Date.now() - t0).toBeLessThanOrEqual(3_000);")).toBe(true);
  expect(BOUNDS_WALL_TIME.test("expect(waits.length).toBeLessThanOrEqual(4);")).toBe(false);
});

test("the fixture stack is a complete, valid stack that runs under the real config rules", () => {
  const stack = readStackConfig(fixtureProject(), FIXTURE_STACK);
  expect(stack.project).toBe("hpc-batch");
  // Its own values, read from its own file: nothing comes from Pulumi.dev.yaml.
  const own = parse(fs.readFileSync(FIXTURE_STACK_FILE, "utf8")).config as Record<string, unknown>;
  for (const [key, value] of Object.entries(own)) {
    expect([key, stack.config[key]]).toEqual([key, value]);
  }
  expect(stack.secretKeys).toEqual([]);
  expect(parseStackConfig(stack.config).location).toBe("westeurope");
});

test("the fixture project's out/ exists on every run, also when a fresh clone reuses its links", () => {
  // CI clones into the same path each run: the link folder of the previous run is still in the
  // temp directory, and the new clone has no out/ (the CI failure of 2776a37: `plan` ENOENT).
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-fixture-links-"));
  try {
    const checkout = path.join(scratch, "checkout");
    fs.mkdirSync(checkout);
    const first = linkFixtureProject(checkout, scratch);
    expect(fs.statSync(path.join(first, "out")).isDirectory()).toBe(true);
    fs.rmSync(path.join(checkout, "out"), { recursive: true }); // the next run's fresh clone
    const second = linkFixtureProject(checkout, scratch);
    expect(second).toBe(first);
    expect(fs.statSync(path.join(second, "out")).isDirectory()).toBe(true);
    expect(fs.readlinkSync(path.join(second, "Pulumi.ci.yaml"))).toBe(
      path.join(checkout, "tests", "fixtures", "stacks", "Pulumi.ci.yaml"),
    );
    // Links of another checkout at that name (stale): replaced whole, nothing left aside.
    fs.rmSync(path.join(second, "out"));
    fs.symlinkSync("/elsewhere/out", path.join(second, "out"));
    expect(linkFixtureProject(checkout, scratch)).toBe(first);
    expect(fs.readlinkSync(path.join(first, "out"))).toBe(path.join(checkout, "out"));
    expect(fs.readdirSync(scratch).sort()).toEqual(["checkout", path.basename(first)]);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
});

test("no test bounds how long something took", () => {
  const found = testSources()
    .filter((f) => f !== "suiteHygiene.test.ts")
    .filter((f) => BOUNDS_WALL_TIME.test(code(f)));
  expect(found).toEqual([]);
});

/* eslint-disable @typescript-eslint/no-require-imports */
const runDirs = require("../scripts/runDir") as {
  makeRunDir: (
    kind: string,
    tmpRoot?: string,
  ) => {
    dir: string;
    swept: string[];
    addPid: (pid: number) => void;
    remove: () => string | undefined;
  };
  sweepRunDirs: (kind: string, tmpRoot: string, uid?: number) => string[];
  signalExitCode: (signal: string) => number;
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** The pid of a process that has ended. */
function endedPid(): number {
  const res = spawnSync(process.execPath, ["-e", "0"]);
  expect(res.status).toBe(0);
  return res.pid;
}

test("under npm test, the temp directory is the run's own folder", () => {
  const shared = process.env.HPC_BATCH_TEST_SHARED_TMP;
  expect(shared).toBeDefined();
  expect(path.dirname(os.tmpdir())).toBe(shared);
  const m = /^hpc-batch-test-run-(\d+)-\w{6}$/.exec(path.basename(os.tmpdir()));
  expect(m).not.toBeNull();
  // scripts/test.js's own process, which removes it when jest ends.
  expect(process.kill(Number(m![1]), 0)).toBe(true);
});

test("a run's folder: the folders of ended runs of its kind are removed first, the rest kept", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-run-dirs-"));
  try {
    const dead = endedPid();
    const keep = [
      `hpc-batch-test-run-${process.pid}-aaaaaa`, // a run still going
      `hpc-batch-bench-run-${dead}-bbbbbb`, // another kind
      `hpc-batch-test-cli-${dead}`, // not a run folder
      "hpc-batch-test-run-x-cccccc",
    ];
    const stale = [`hpc-batch-test-run-${dead}-dddddd`, `hpc-batch-test-run-${dead}-eeeeee`];
    for (const name of [...keep, ...stale]) {
      fs.mkdirSync(path.join(root, name, "inside"), { recursive: true });
    }
    // A run whose own process is gone but whose jest still runs (listed in its pids file).
    const jestAlive = `hpc-batch-test-run-${dead}-gggggg`;
    keep.push(jestAlive);
    fs.mkdirSync(path.join(root, jestAlive));
    fs.writeFileSync(path.join(root, jestAlive, "pids"), `${dead}\n${process.pid}\n`);
    // Another user's folders (as the sweep sees them when run by another uid) are theirs.
    expect(runDirs.sweepRunDirs("test", root, (process.getuid?.() ?? 0) + 1)).toEqual([]);
    const run = runDirs.makeRunDir("test", root);
    expect(run.swept.sort()).toEqual(stale.map((n) => path.join(root, n)));
    expect(path.basename(run.dir)).toMatch(
      new RegExp(`^hpc-batch-test-run-${process.pid}-\\w{6}$`),
    );
    expect(fs.readdirSync(root).sort()).toEqual([...keep, path.basename(run.dir)].sort());
    run.addPid(4242);
    expect(fs.readFileSync(path.join(run.dir, "pids"), "utf8")).toBe("4242\n");
    expect(run.remove()).toBeUndefined();
    expect(fs.readdirSync(root).sort()).toEqual([...keep].sort());
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test("npm test removes a killed run's folder, and leaves none of its own", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-npm-test-"));
  try {
    const stale = path.join(root, `hpc-batch-test-run-${endedPid()}-ffffff`);
    fs.mkdirSync(path.join(stale, "hpc-batch-tls-x"), { recursive: true });
    // A jest run that only lists the test files (no test runs, no worker starts).
    const res = spawnSync(
      process.execPath,
      [path.join(__dirname, "..", "scripts", "test.js"), "--listTests"],
      { encoding: "utf8", env: { ...process.env, TMPDIR: root } },
    );
    expect({ status: res.status, stderr: res.stderr }).toEqual({
      status: 0,
      stderr: `npm test: removed ${stale} (left by a run that was killed)\n`,
    });
    expect(res.stdout).toContain(path.join("tests", "suiteHygiene.test.ts"));
    // Only jest's transform cache, meant to outlive runs, is left in the temp directory.
    expect(fs.readdirSync(root).filter((n) => !/^jest(_\w+)?$/.test(n))).toEqual([]);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test.each([
  ["SIGINT", 130],
  ["SIGTERM", 143],
])("a run ended by %s exits %i, as a shell reports it", (signal, code) => {
  expect(runDirs.signalExitCode(signal)).toBe(code);
});

test("an inspector session a test file opens is closed after the file (tests/support/jestSetup.ts)", () => {
  const tracked = (inspector.Session as unknown as Record<symbol, Set<inspector.Session>>)[
    Symbol.for("hpc-batch.test.inspectorSessions")
  ];
  const session = new inspector.Session();
  session.connect();
  // Pulumi's closure serializer opens one this way and keeps it: the setup closes what is here.
  expect(tracked.has(session)).toBe(true);
});
