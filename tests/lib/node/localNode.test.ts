import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as yazl from "yazl";
import { nodeLayout, runOnLocalNode, taskEnvironment } from "../../../lib/node/localNode";
import { smokeTask } from "../../../lib/node/smokeTask";
import { stageFolder } from "../../../lib/package/stage";
import { buildPackage } from "../../../lib/package/zip";
import { runCli } from "../../helpers";

const repo = path.resolve(__dirname, "../../..");
let tmp: string;
/** The real package: hpc-application with ffmpeg staged, as `hpc-batch package` builds it. */
let zipPath: string;
/** A package whose bin/ffmpeg has no exec bit (a classic packaging mistake). */
let badZip: string;
/**
 * The same name and version as the real package, 1 KB instead of 24 MB: the real transcode.sh and
 * a shell stand-in for ffmpeg that passes the smoke task, for the tests that are about the node's
 * environment rather than ffmpeg (each real run unpacks 68 MB).
 */
let smallZip: string;
const FFMPEG_STAND_IN = [
  "#!/bin/sh",
  "# ffmpeg's stand-in: prints a version line, writes its last argument (the output) unless `-`.",
  'if [ "$1" = -version ]; then echo "ffmpeg version stand-in"; exit 0; fi',
  "for last; do :; done",
  '[ "$last" = - ] || echo stand-in > "$last"',
  "",
].join("\n");

async function writeZip(file: string, entries: { name: string; text: string; mode: number }[]) {
  const zip = new yazl.ZipFile();
  for (const e of entries) zip.addBuffer(Buffer.from(e.text), e.name, { mode: e.mode });
  zip.end();
  await new Promise<void>((resolve, reject) =>
    zip.outputStream.pipe(fs.createWriteStream(file)).on("close", resolve).on("error", reject),
  );
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "local-node-test-"));
  const folder = path.join(tmp, "hpc-application");
  fs.cpSync(path.join(repo, "hpc-application"), folder, {
    recursive: true,
    filter: (src) => src !== path.join(repo, "hpc-application", "bin", "ffmpeg"),
  });
  await stageFolder({ folder, resolveFrom: [repo] });
  const built = await buildPackage({
    folder,
    outDir: tmp,
    applicationId: "ffmpeg",
    version: "1.2.0",
    compressionLevel: 1,
  });
  zipPath = built.path;
  badZip = path.join(tmp, "ffmpeg-9.9.9.zip");
  await writeZip(badZip, [
    { name: "bin/ffmpeg", text: "#!/bin/sh\necho never\n", mode: 0o100644 },
    { name: "bin/transcode.sh", text: "#!/bin/sh\nexit 0\n", mode: 0o100755 },
  ]);
  fs.mkdirSync(path.join(tmp, "small"));
  smallZip = path.join(tmp, "small", path.basename(zipPath));
  await writeZip(smallZip, [
    { name: "bin/ffmpeg", text: FFMPEG_STAND_IN, mode: 0o100755 },
    {
      name: "bin/transcode.sh",
      text: fs.readFileSync(path.join(folder, "bin", "transcode.sh"), "utf8"),
      mode: 0o100755,
    },
  ]);
}, 120_000);

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test("the node layout and task environment follow a Linux Batch node's", () => {
  const ids = {
    jobId: "job1",
    taskId: "smoke",
    pkg: { applicationId: "FFmpeg", version: "1.2.0" },
    activatedAt: new Date("2024-10-24T20:44:31Z"),
  };
  const layout = nodeLayout("/mnt/batch/tasks", ids);
  expect(layout).toEqual({
    root: "/mnt/batch/tasks",
    applications: "/mnt/batch/tasks/applications",
    shared: "/mnt/batch/tasks/shared",
    startup: "/mnt/batch/tasks/startup",
    mounts: "/mnt/batch/tasks/fsmounts",
    packageDir: "/mnt/batch/tasks/applications/ffmpeg1.2.02024-10-24-20-44",
    taskDir: "/mnt/batch/tasks/workitems/job1/job-1/smoke",
    workingDir: "/mnt/batch/tasks/workitems/job1/job-1/smoke/wd",
    certsDir: "/mnt/batch/tasks/workitems/job1/job-1/smoke/certs",
    stdout: "/mnt/batch/tasks/workitems/job1/job-1/smoke/stdout.txt",
    stderr: "/mnt/batch/tasks/workitems/job1/job-1/smoke/stderr.txt",
  });
  const pkgDir = "/mnt/batch/tasks/applications/ffmpeg1.2.02024-10-24-20-44";
  expect(taskEnvironment(layout, ids, true)).toEqual({
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/mnt/batch/tasks/shared:/mnt/batch/tasks/workitems/job1/job-1/smoke/wd",
    HOME: "/mnt/batch/tasks/workitems/job1/job-1/smoke/wd",
    AZ_BATCH_NODE_ROOT_DIR: "/mnt/batch/tasks",
    AZ_BATCH_NODE_SHARED_DIR: "/mnt/batch/tasks/shared",
    AZ_BATCH_NODE_STARTUP_DIR: "/mnt/batch/tasks/startup",
    AZ_BATCH_NODE_MOUNTS_DIR: "/mnt/batch/tasks/fsmounts",
    AZ_BATCH_NODE_ID: "local-node",
    AZ_BATCH_NODE_IS_DEDICATED: "true",
    AZ_BATCH_POOL_ID: "local-run",
    AZ_BATCH_JOB_ID: "job1",
    AZ_BATCH_TASK_ID: "smoke",
    AZ_BATCH_TASK_DIR: "/mnt/batch/tasks/workitems/job1/job-1/smoke",
    AZ_BATCH_TASK_WORKING_DIR: "/mnt/batch/tasks/workitems/job1/job-1/smoke/wd",
    AZ_BATCH_CERTIFICATES_DIR: "/mnt/batch/tasks/workitems/job1/job-1/smoke/certs",
    AZ_BATCH_APP_PACKAGE_FFmpeg_1_2_0: pkgDir,
    AZ_BATCH_APP_PACKAGE_ffmpeg_1_2_0: pkgDir,
    AZ_BATCH_APP_PACKAGE_FFmpeg: pkgDir,
    AZ_BATCH_APP_PACKAGE_ffmpeg: pkgDir,
  });
  const notDefault = taskEnvironment(layout, ids, false);
  expect(Object.keys(notDefault).filter((k) => k.startsWith("AZ_BATCH_APP_PACKAGE"))).toEqual([
    "AZ_BATCH_APP_PACKAGE_FFmpeg_1_2_0",
    "AZ_BATCH_APP_PACKAGE_ffmpeg_1_2_0",
  ]);
});

test("a real local run: the staged ffmpeg transcodes a clip it generated", async () => {
  const r = await runOnLocalNode({
    zipPath,
    pkg: { applicationId: "ffmpeg", version: "1.2.0" },
    isDefaultVersion: true,
    keep: true,
    parentDir: tmp,
  });
  expect(r.stderr).toBe("");
  expect([r.ok, r.exitCode, r.signal, r.timedOut]).toEqual([true, 0, null, false]);
  expect(r.commandLine).toBe(smokeTask({ applicationId: "ffmpeg", version: "1.2.0" }).commandLine);
  expect(r.kept).toBe(true);
  expect(path.dirname(r.layout.root)).toBe(tmp);
  expect(path.basename(r.layout.packageDir)).toMatch(/^ffmpeg1\.2\.0\d{4}-\d\d-\d\d-\d\d-\d\d$/);
  expect(r.layout.taskDir).toBe(path.join(r.layout.root, "workitems/local-run/job-1/smoke"));
  // The package was unpacked with its exec bits.
  expect(fs.statSync(path.join(r.layout.packageDir, "bin/ffmpeg")).mode & 0o777).toBe(0o755);
  expect(fs.statSync(path.join(r.layout.packageDir, "bin/transcode.sh")).mode & 0o777).toBe(0o755);
  expect(r.outputs.map((o) => o.path)).toEqual(["smoke-input.mkv", "smoke-output.mp4"]);
  const out = r.outputs[1];
  expect(out.bytes).toBeGreaterThan(1000);
  expect(r.stdout).toBe(
    "ffmpeg version N-47683-g0e8eb07980-static https://johnvansickle.com/ffmpeg/  Copyright (c) 2000-2018 the FFmpeg developers\n" +
      `smoke: ok ${out.bytes} bytes in smoke-output.mp4\n`,
  );
  // stdout.txt and stderr.txt sit in the task directory, as on a node.
  expect(fs.readFileSync(path.join(r.layout.taskDir, "stdout.txt"), "utf8")).toBe(r.stdout);
  expect(fs.readFileSync(path.join(r.layout.taskDir, "stderr.txt"), "utf8")).toBe("");
  expect(r.durationMs).toBeGreaterThan(0);
  fs.rmSync(r.layout.root, { recursive: true, force: true });
}, 60_000);

test("the task process sees exactly the node's environment, in its working directory", async () => {
  const task = {
    ...smokeTask({ applicationId: "ffmpeg", version: "9.9.9" }),
    id: "env",
    commandLine: "/bin/sh -c 'pwd; env'",
  };
  const r = await runOnLocalNode({
    zipPath: badZip,
    pkg: { applicationId: "ffmpeg", version: "9.9.9" },
    isDefaultVersion: false,
    task,
    parentDir: tmp,
  });
  expect(r.ok).toBe(true);
  const [pwd, ...envLines] = r.stdout.trim().split("\n");
  expect(pwd).toBe(r.layout.workingDir);
  const seen = Object.fromEntries(
    envLines.map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  // The shell adds PWD (and dash nothing else); the caller's variables do not leak in.
  expect(seen).toEqual({ ...r.env, PWD: r.layout.workingDir });
  expect(r.kept).toBe(false);
  expect(fs.existsSync(r.layout.root)).toBe(false);
});

test("a package whose ffmpeg lacks the exec bit fails with exit 126 and the task's stderr", async () => {
  const r = await runOnLocalNode({
    zipPath: badZip,
    pkg: { applicationId: "ffmpeg", version: "9.9.9" },
    isDefaultVersion: false,
    parentDir: tmp,
  });
  expect([r.ok, r.exitCode, r.timedOut]).toEqual([false, 126, false]);
  expect(r.stdout).toBe("");
  expect(r.stderr).toMatch(/bin\/ffmpeg: Permission denied\n$/);
  expect(r.outputs).toEqual([]);
  expect(fs.existsSync(r.layout.root)).toBe(false);
});

test("a task over its time limit is killed", async () => {
  const task = {
    ...smokeTask({ applicationId: "ffmpeg", version: "9.9.9" }),
    commandLine: "/bin/sh -c 'sleep 30'",
  };
  const r = await runOnLocalNode({
    zipPath: badZip,
    pkg: { applicationId: "ffmpeg", version: "9.9.9" },
    isDefaultVersion: false,
    task,
    parentDir: tmp,
    timeoutMs: 300,
  });
  // Killed by the limit, not ended by itself (`sleep 30` would exit 0): no wall-time bound.
  expect([r.ok, r.exitCode, r.signal, r.timedOut]).toEqual([false, null, "SIGKILL", true]);
});

test("hpc-batch local-run --zip runs the package and exits 0; version from the file name", async () => {
  const res = await runCli(["local-run", "--zip", zipPath]);
  expect(res.stderr).toBe("");
  expect(res.code).toBe(0);
  const lines = res.stdout.split("\n");
  expect(lines[0]).toMatch(
    /^local-run: ffmpeg 1\.2\.0 on a Batch-like node at \/.+\/hpc-batch-node-\w+$/,
  );
  expect(lines[3]).toMatch(/^exit code 0 after \d+\.\d s$/);
  expect(lines[4]).toMatch(
    /^outputs in wd: smoke-input\.mkv \(\d+ bytes\), smoke-output\.mp4 \(\d+ bytes\)$/,
  );
  expect(lines[5]).toBe("stdout.txt:");
  expect(lines[7]).toMatch(/^ {2}smoke: ok \d+ bytes in smoke-output\.mp4$/);
  expect(lines.at(-2)).toBe("node folder removed (use --keep to inspect the task's files)");
}, 60_000);

test("the version is the default unless --no-default, as on a deployed stack", async () => {
  const asDefault = JSON.parse((await runCli(["local-run", "--zip", smallZip, "--json"])).stdout);
  const notDefault = JSON.parse(
    (await runCli(["local-run", "--zip", smallZip, "--json", "--no-default"])).stdout,
  );
  // Both runs passed the smoke task, with the stand-in.
  expect([asDefault.ok, notDefault.ok]).toEqual([true, true]);
  const appVars = (env: Record<string, string>) =>
    Object.keys(env)
      .filter((k) => k.toUpperCase().startsWith("AZ_BATCH_APP_PACKAGE_"))
      .sort();
  expect(appVars(asDefault.env)).toEqual([
    "AZ_BATCH_APP_PACKAGE_ffmpeg",
    "AZ_BATCH_APP_PACKAGE_ffmpeg_1_2_0",
  ]);
  expect(appVars(notDefault.env)).toEqual(["AZ_BATCH_APP_PACKAGE_ffmpeg_1_2_0"]);
}, 60_000);

test("hpc-batch local-run exits 1 with the task's stderr when the task fails", async () => {
  const res = await runCli(["local-run", "--zip", badZip, "--json"]);
  expect(res.code).toBe(1);
  const result = JSON.parse(res.stdout);
  expect(result.exitCode).toBe(126);
  expect(res.stderr).toBe(
    `hpc-batch local-run: the smoke task exited with 126; its stderr.txt:\n${result.stderr}`,
  );
  expect(result.stderr).toMatch(/Permission denied/);
});

test.each([
  [
    ["--zip", "x.zip", "--folder", "hpc-application"],
    '--zip "x.zip" is invalid: cannot be combined with --folder',
  ],
  [
    ["--zip", "/nonexistent/ffmpeg-1.0.0.zip"],
    '--zip "/nonexistent/ffmpeg-1.0.0.zip" is invalid: must be an existing zip file',
  ],
  [["--zip", "x.zip", "--application-id", "bad id"], '--application-id "bad id" is invalid'],
  [["--zip", "x.zip", "--version", "1.0+build"], '--version "1.0+build" is invalid'],
])("hpc-batch local-run %j exits 2", async (args, message) => {
  const res = await runCli(["local-run", ...args]);
  expect(res.code).toBe(2);
  expect(res.stderr).toContain(`hpc-batch local-run: ${message}`);
  expect(res.stdout).toBe("");
});
