/**
 * Ctrl-C and kills, on real runs: the CLI runs as its own process (tests/support/cliProcess),
 * paused at a known point by its test hook (lib/core/interrupt.ts pausePoint), then signalled. A
 * SIGINT or SIGTERM ends it with one line and exit 130, leaving no partial file in out/, no
 * staging copy and no hpc-batch-* folder in the temp folder; what a SIGKILL leaves, the next run
 * removes. Waits are bounded loops on files; nothing depends on how long a step takes.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startArmBatchStandIn, type ArmBatchStandIn } from "../../standins/armBatchStandIn";
import { fakeEntraToken, startAzurite, type Azurite } from "../../standins/azurite";
import { compileCli, startCli, type CliProcess } from "../support/cliProcess";
import { pseudoRandom } from "../support/pseudoRandom";

let tmp: string;
let entry: string;
let project: string;
let app: string;
let out: string;
let tmpdir: string;
let pauseFile: string;

beforeAll(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "hpc-interrupt-")));
  entry = compileCli();
}, 120_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

beforeEach(() => {
  project = fs.mkdtempSync(path.join(tmp, "project-"));
  app = path.join(project, "hpc-application");
  out = path.join(project, "out");
  tmpdir = path.join(project, ".tmp");
  pauseFile = path.join(project, ".paused");
  const write = (rel: string, content: string | Buffer, mode = 0o644) => {
    const abs = path.join(project, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, content, { mode });
  };
  write("Pulumi.yaml", "name: hpc-batch\nruntime: nodejs\n");
  write("package.json", '{"name": "my-hpc-app"}\n');
  write("node_modules/hpc-fake-tool/package.json", '{"name": "hpc-fake-tool", "version": "1.0.0"}');
  // A megabyte of varied bytes, so the staged copy and the zip are real work.
  const tool = Buffer.alloc(1 << 20);
  for (let i = 0; i < tool.length; i++) tool[i] = (i * 7919) % 251;
  write("node_modules/hpc-fake-tool/tool", tool, 0o755);
  write(
    "hpc-application/stage.json",
    JSON.stringify({ files: [{ from: "hpc-fake-tool/tool", to: "bin/tool", mode: "0755" }] }),
  );
  write("hpc-application/bin/run.sh", "#!/bin/sh\nexec ./tool\n", 0o755);
  write("hpc-application/README.md", "# app\n");
  fs.mkdirSync(tmpdir);
});

const env = (pauseAt?: string) => ({
  TMPDIR: tmpdir,
  HPC_BATCH_TEST_PAUSE_AT: pauseAt ?? "",
  HPC_BATCH_TEST_PAUSE_FILE: pauseFile,
  // pausePoint collects garbage once paused: a paused run whose files the collector closed
  // would print Node's "Closing file descriptor ... on garbage collection" warnings.
  NODE_OPTIONS: "--expose-gc",
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts the CLI paused at `point` and resolves once it is there (or fails if it ended first). */
async function pausedAt(point: string, args: string[]): Promise<CliProcess> {
  fs.rmSync(pauseFile, { force: true });
  const run = startCli(entry, args, { cwd: project, env: env(point) });
  let ended = false;
  void run.done.then(() => (ended = true));
  for (let i = 0; i < 2400 && !fs.existsSync(pauseFile) && !ended; i++) await sleep(25);
  if (!fs.existsSync(pauseFile)) {
    run.child.kill("SIGKILL");
    const r = await run.done;
    throw new Error(`never reached ${point}: exit ${r.code}, stderr ${r.stderr}`);
  }
  return run;
}

/**
 * Runs `body`, which signals the paused `run`; SIGKILLs the run after if it is still alive: it
 * waits for its signal for good, so a failed expectation must not leave it behind.
 */
async function withPaused(run: CliProcess, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } finally {
    if (run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill("SIGKILL");
      await run.done;
    }
  }
}

/** Everything in the folders a run may leave something in. */
function leftovers() {
  const list = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);
  return {
    out: list(out),
    bin: list(path.join(app, "bin")),
    tmpdir: list(tmpdir),
  };
}

const PACKAGE = ["package", "--version", "1.0.0"];
const LOCAL_RUN = ["local-run", "--version", "1.0.0"];

test.each<[string, string[], string, NodeJS.Signals, () => string[]]>([
  ["package, before the build", PACKAGE, "package:start", "SIGINT", () => []],
  [
    "package, while the zip is written",
    PACKAGE,
    "zip:writing",
    "SIGINT",
    () => fs.readdirSync(out).filter((n) => n.endsWith(".partial")),
  ],
  [
    "package, while the zip is written (SIGTERM)",
    PACKAGE,
    "zip:writing",
    "SIGTERM",
    () => fs.readdirSync(out).filter((n) => n.endsWith(".partial")),
  ],
  [
    "stage, while a binary is copied",
    ["stage"],
    "stage:copied",
    "SIGINT",
    () => fs.readdirSync(path.join(app, "bin")).filter((n) => n.endsWith(".staging")),
  ],
  [
    "local-run, while its zip is written",
    LOCAL_RUN,
    "zip:writing",
    "SIGINT",
    () => fs.readdirSync(tmpdir).filter((n) => n.startsWith("hpc-batch-local-run-")),
  ],
])(
  "%s: %s ends with one line, exit 130, nothing left",
  async (_what, args, point, signal, inFlight) => {
    if (args[0] === "package")
      fs.cpSync(
        path.join(project, "node_modules/hpc-fake-tool/tool"),
        path.join(app, "bin", "tool"),
      );
    const before = leftovers();
    const run = await pausedAt(point, args);
    await withPaused(run, async () => {
      // What the run is writing exists while it is paused (except before the build).
      expect(inFlight()).toHaveLength(point === "package:start" ? 0 : 1);
      run.child.kill(signal);
      expect(await run.done).toEqual({
        code: 130,
        signal: null,
        stdout: "",
        stderr: `hpc-batch ${args[0]}: interrupted\n`,
      });
    });
    const after = leftovers();
    expect(after.out).toEqual(before.out.filter((n) => !n.endsWith(".partial")));
    expect(after.out.filter((n) => n.endsWith(".zip"))).toEqual([]);
    expect(after.bin.filter((n) => n.endsWith(".staging"))).toEqual([]);
    expect(after.tmpdir).toEqual([]);
  },
);

describe("what a killed run leaves, the next run removes", () => {
  test("package: the partial zip", async () => {
    fs.cpSync(path.join(project, "node_modules/hpc-fake-tool/tool"), path.join(app, "bin", "tool"));
    const run = await pausedAt("zip:writing", PACKAGE);
    await withPaused(run, async () => {
      run.child.kill("SIGKILL");
      expect((await run.done).signal).toBe("SIGKILL");
    });
    const partial = `${run.child.pid}`;
    expect(
      leftovers().out.filter((n) => n.includes(partial) && n.endsWith(".partial")),
    ).toHaveLength(1);

    const again = await startCli(entry, PACKAGE, { cwd: project, env: env() }).done;
    expect([again.code, again.stderr]).toEqual([0, ""]);
    expect(leftovers().out).toEqual([".ffmpeg-1.0.0.zip.build.json", "ffmpeg-1.0.0.zip"]);
  });

  test("stage: the staging copy", async () => {
    const run = await pausedAt("stage:copied", ["stage"]);
    await withPaused(run, async () => {
      run.child.kill("SIGKILL");
      await run.done;
    });
    expect(leftovers().bin).toEqual([`.tool.${run.child.pid}.staging`, "run.sh"]);

    const again = await startCli(entry, ["stage"], { cwd: project, env: env() }).done;
    expect([again.code, again.stderr]).toEqual([0, ""]);
    expect(leftovers().bin).toEqual(["run.sh", "tool"]);
  });

  test("local-run: its temporary folder", async () => {
    const run = await pausedAt("zip:writing", LOCAL_RUN);
    await withPaused(run, async () => {
      run.child.kill("SIGKILL");
      await run.done;
    });
    expect(leftovers().tmpdir).toEqual([
      expect.stringMatching(new RegExp(`^hpc-batch-local-run-${run.child.pid}-`)),
    ]);
    // Another process's folder, still running, is left alone.
    const alive = `hpc-batch-local-run-${process.pid}-keep`;
    fs.mkdirSync(path.join(tmpdir, alive));

    const next = await pausedAt("zip:writing", LOCAL_RUN);
    await withPaused(next, async () => {
      next.child.kill("SIGINT");
      expect((await next.done).code).toBe(130);
    });
    expect(leftovers().tmpdir).toEqual([alive]);
  });
});

describe("publish --folder: interrupted while its zip is written and sent", () => {
  const SUB = "00000000-0000-0000-0000-0000000000c1";
  const token = fakeEntraToken();
  let azurite: Azurite;
  let arm: ArmBatchStandIn;
  beforeAll(async () => {
    azurite = await startAzurite();
    arm = await startArmBatchStandIn({
      azurite,
      subscriptionId: SUB,
      resourceGroup: "rg-hpc",
      account: "bahpc04",
      token,
    });
  }, 60_000);
  afterAll(async () => {
    // Stopped first: a failed expectation must not leave Azurite running after the suite.
    const violations = arm?.violations;
    await arm?.close(); // undefined when startup failed: its own error is the one reported
    await azurite?.stop();
    expect(violations).toEqual([]);
  });

  test("SIGINT: exit 130, no partial zip; the next run resumes the Pending version", async () => {
    // Megabytes deflate cannot shrink: the zip is followed (uploaded as it is written) once it
    // cannot expand over 100x, which the first entry, "0.dat" (first in byte order), ensures
    // before the build pauses after it.
    fs.writeFileSync(path.join(app, "bin", "tool"), pseudoRandom(1 << 20), { mode: 0o755 });
    fs.writeFileSync(path.join(app, "0.dat"), pseudoRandom(1 << 20, 2));
    const args = [
      "publish",
      "--folder",
      "hpc-application",
      "--version",
      "1.0.0",
      "--subscription",
      SUB,
      "--resource-group",
      "rg-hpc",
      "--account",
      "bahpc04",
      "--application",
      "ffmpeg",
      "--arm-endpoint",
      arm.url,
    ];
    const withToken = (pauseAt?: string) => ({ ...env(pauseAt), AZURE_ACCESS_TOKEN: token });
    fs.rmSync(pauseFile, { force: true });
    const run = startCli(entry, args, { cwd: project, env: withToken("zip:writing") });
    // The build pauses after its first file; the publish goes on to create the version and
    // keeps its upload URL beside the zip (out/.pending/), written aside and renamed: wait for
    // the record itself, not its `.<pid>.tmp` (seeing that one made this test flaky).
    const pending = path.join(out, ".pending");
    const kept = () => (fs.existsSync(pending) ? fs.readdirSync(pending) : []);
    const RECORD = /^[0-9a-f]{16}\.json$/;
    const there = () => fs.existsSync(pauseFile) && kept().some((n) => RECORD.test(n));
    let r: Awaited<typeof run.done>;
    try {
      for (let i = 0; i < 2400 && !there(); i++) await sleep(25);
      expect([fs.existsSync(pauseFile), arm.counts["PUT version"], kept()]).toEqual([
        true,
        1,
        [expect.stringMatching(RECORD)],
      ]);
      run.child.kill("SIGINT");
      r = await run.done;
    } finally {
      // A paused run waits for its signal for good: never leave one behind a failed expectation.
      if (run.child.exitCode === null && run.child.signalCode === null) {
        run.child.kill("SIGKILL");
        await run.done;
      }
    }
    expect([r.code, r.stderr]).toEqual([130, "hpc-batch publish: interrupted\n"]);
    // No partial, no zip: only the version's upload URL, kept to resume it.
    expect(leftovers().out).toEqual([".pending"]);
    expect(leftovers().tmpdir).toEqual([]);
    expect(arm.applications.get("ffmpeg")!.versions.get("1.0.0")!.state).toBe("Pending");

    const again = await startCli(entry, args, { cwd: project, env: withToken() }).done;
    expect([again.code, again.stderr]).toEqual([0, ""]);
    expect(again.stdout).toContain(
      "version 1.0.0: Pending from an earlier run; resuming its upload",
    );
    expect(arm.counts["PUT version"]).toBe(1);
    expect(arm.applications.get("ffmpeg")!.versions.get("1.0.0")!.state).toBe("Active");
    expect(leftovers().out).toEqual([
      ".ffmpeg-1.0.0.zip.build.json",
      ".pending",
      "ffmpeg-1.0.0.zip",
    ]);
    expect(fs.readdirSync(path.join(out, ".pending"))).toEqual([]);
  }, 60_000);
});
