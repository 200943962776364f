#!/usr/bin/env node
// `npm run bench` (builds first when dist/ is stale): times the commands where a user or a
// pipeline runs them, each a separate process, against Azurite and the ARM stand-in:
//   one command          `hpc-batch publish --folder` (builds the zip and uploads it as it is
//                        written, one process; node bin/hpc-batch.js)
//   two commands         `hpc-batch package` then `hpc-batch publish --zip`
//   classic pair         Info-ZIP `zip -r -X -6` then a single-shot upload of that zip
//                        (`az storage blob upload` when azure-cli is installed, else the storage
//                        SDK's uploadFile in its own node process: one Put Blob below 256 MB;
//                        `--classic-upload az|sdk` picks one)
// side by side in the same run, alternating which goes first, median of the rounds, and prints
// each target with PASS or FAIL, for each way of releasing:
//   first release / classic pair           <= 0.50
//   unchanged re-release / classic pair    <= 0.10, with 0 bytes sent
//   zip size / Info-ZIP zip size           <= 1.10
//   hpc-batch --help, --version            <= 0.3 s each
//   npm run plan, nothing changed          <= 3 s
//   hpc-batch plan, warm                   <= 1.5 s
// A script, not a test: its numbers depend on the machine (the suite asserts no wall time).
// The stand-ins are the suite's own (standins/, built into dist/standins/). Like `npm test`,
// it makes a throwaway TLS certificate and re-runs itself with NODE_EXTRA_CA_CERTS, which Node
// reads only at start-up (the commands it runs inherit it).
// Options: --rounds N (default 3, at least 3); --classic-upload az|sdk (default: az when
// installed).
"use strict";
const { spawn, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { makeRunDir, signalExitCode } = require("./runDir");
const { makeTestTls } = require("./tls");

const root = path.join(__dirname, "..");

if (!process.env.HPC_BATCH_BENCH_CHILD) {
  // The run's temp files (the certificate, the zips, the commands' own) in one folder, removed at
  // the end; a killed run's folder is removed by the next run (scripts/runDir.js).
  const run = makeRunDir("bench");
  for (const dir of run.swept)
    console.error(`bench: removed ${dir} (left by a run that was killed)`);
  process.on("exit", () => {
    const problem = run.remove();
    if (problem) console.error(`bench: ${problem}`);
  });
  const tls = makeTestTls("scripts/bench.js", run.dir);
  const child = spawn(process.execPath, [__filename, ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, HPC_BATCH_BENCH_CHILD: "1", TMPDIR: run.dir, ...tls.env },
  });
  run.addPid(child.pid);
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => process.exit(code ?? signalExitCode(signal)));
  return;
}

// ---- child: the benchmark itself -------------------------------------------------------------

// The suite's stand-ins (standins/), as `npm run bench` built them into dist/standins/.
const { startAzurite, fakeEntraToken } = require("../dist/standins/azurite");
const { startArmBatchStandIn } = require("../dist/standins/armBatchStandIn");

const SUB = "00000000-0000-0000-0000-00000000be0c";
const RG = "rg-bench";
const ACCOUNT = "babench";
const CLI = path.join(root, "bin", "hpc-batch.js");
const SINGLE_SHOT_MAX = 256 * 1024 * 1024;

function which(cmd) {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const secs = (ms) => `${(ms / 1000).toFixed(2)} s`;

/**
 * Runs a command to its end and times it (spawn, not spawnSync: the ARM stand-in answers from
 * this process's event loop). Rejects with its output when it exits other than `ok` allows.
 */
function timed(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? root,
      env: opts.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code === 0 || (opts.ok && opts.ok(code))) resolve({ ms, code, stdout, stderr });
      else
        reject(
          new Error(
            `${path.basename(cmd)} ${args.join(" ")} exited ${code}:\n${stderr || stdout}`.trim(),
          ),
        );
    });
  });
}

/** The staged folder: hpc-application/ when `npm run stage-app` filled it, else a temp copy. */
function stagedFolder(tmp) {
  const folder = path.join(root, "hpc-application");
  if (fs.existsSync(path.join(folder, "bin", "ffmpeg")))
    return { folder, note: "hpc-application/" };
  const copy = path.join(tmp, "hpc-application");
  fs.cpSync(folder, copy, { recursive: true });
  fs.mkdirSync(path.join(copy, "bin"), { recursive: true });
  const ffmpeg = require.resolve("@ffmpeg-installer/linux-x64/ffmpeg");
  fs.copyFileSync(ffmpeg, path.join(copy, "bin", "ffmpeg"));
  fs.chmodSync(path.join(copy, "bin", "ffmpeg"), 0o755);
  return {
    folder: copy,
    note: "a temporary copy of hpc-application/ with ffmpeg staged (run `npm run stage-app` to stage it in place)",
  };
}

function folderSize(dir) {
  let bytes = 0;
  let files = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) {
      bytes += fs.statSync(path.join(e.parentPath ?? e.path, e.name)).size;
      files++;
    }
  }
  return { bytes, files };
}

async function main() {
  const at = process.argv.indexOf("--rounds");
  const rounds = Math.max(3, at > 0 ? Number(process.argv[at + 1]) || 3 : 3);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-batch-bench-"));
  const { folder, note } = stagedFolder(tmp);
  const size = folderSize(folder);
  const zipBin = which("zip");
  const pick = process.argv.indexOf("--classic-upload");
  const wanted = pick > 0 ? process.argv[pick + 1] : undefined;
  if (wanted !== undefined && wanted !== "az" && wanted !== "sdk")
    throw new Error(`--classic-upload ${wanted}: must be az or sdk`);
  const az = wanted === "sdk" ? undefined : which("az");
  if (wanted === "az" && !az) throw new Error("--classic-upload az: azure-cli is not installed");
  if (!zipBin) throw new Error("Info-ZIP `zip` is not installed: the classic pair cannot run");
  const token = fakeEntraToken();
  // The commands authenticate as a pipeline with a ready token would; nothing else may leak in.
  const cliEnv = { ...process.env, AZURE_ACCESS_TOKEN: token };
  for (const k of Object.keys(cliEnv))
    if (/^(AZURE_(?!ACCESS_TOKEN$)|ARM_|PULUMI_)/.test(k)) delete cliEnv[k];

  const azurite = await startAzurite();
  // Activation checks the blob is committed; the content check (a download) is the suite's job.
  const arm = await startArmBatchStandIn({
    azurite,
    subscriptionId: SUB,
    resourceGroup: RG,
    account: ACCOUNT,
    token,
    verifyOnActivate: "exists",
  });
  await azurite.service.getContainerClient("classic").create();

  console.log(
    `hpc-batch bench: node ${process.version}, ${os.cpus().length} cores, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}, Azurite over HTTPS, ARM stand-in, ${rounds} rounds`,
  );
  console.log(
    `package folder: ${note}: ${(size.bytes / 1e6).toFixed(1)} MB in ${size.files} files`,
  );
  const why = wanted === "sdk" ? "--classic-upload sdk" : "azure-cli is not installed";
  console.log(
    `classic upload: ${az ? "az storage blob upload" : `@azure/storage-blob uploadFile in a node process (${why})`}`,
  );
  // Warm the page cache so the first round does not pay for the disk.
  fs.readFileSync(path.join(folder, "bin", "ffmpeg"));

  const t = {
    zip: [],
    upload: [],
    classic: [],
    oneFirst: [],
    oneUnchanged: [],
    package: [],
    publish: [],
    first: [],
    repackage: [],
    republish: [],
    unchanged: [],
    help: [],
    version: [],
    npmPlan: [],
    plan: [],
  };
  let infozipBytes = 0;
  let ourBytes = 0;
  let unchangedSent = 0;
  let oneUnchangedSent = 0;
  let oneBytes = 0;
  const notes = [];

  const classicPair = async (r) => {
    const zip = path.join(tmp, `classic-${r}.zip`);
    const z = await timed(zipBin, ["-q", "-r", "-X", "-6", zip, "."], { cwd: folder });
    infozipBytes = fs.statSync(zip).size;
    const url = azurite.sasUrl("classic", `ffmpeg-classic-${r}.zip`);
    const u = az
      ? await timed(
          az,
          [
            "storage",
            "blob",
            "upload",
            "--overwrite",
            "--only-show-errors",
            "--blob-url",
            url,
            "--file",
            zip,
          ],
          { env: { ...process.env, REQUESTS_CA_BUNDLE: process.env.HPC_BATCH_TEST_TLS_CERT } },
        )
      : await timed(process.execPath, [
          "-e",
          `const { BlockBlobClient } = require("@azure/storage-blob");
           new BlockBlobClient(process.argv[1])
             .uploadFile(process.argv[2], { maxSingleShotSize: ${SINGLE_SHOT_MAX} })
             .catch((e) => { console.error(e.message); process.exit(1); });`,
          url,
          zip,
        ]);
    t.zip.push(z.ms);
    t.upload.push(u.ms);
    t.classic.push(z.ms + u.ms);
  };

  const release = (version, out) =>
    Promise.resolve()
      .then(() =>
        timed(
          process.execPath,
          [
            CLI,
            "package",
            "--folder",
            folder,
            "--out",
            out,
            "--application-id",
            "ffmpeg",
            "--version",
            version,
            "--json",
          ],
          { env: cliEnv },
        ),
      )
      .then(async (p) => {
        const built = JSON.parse(p.stdout);
        const u = await timed(
          process.execPath,
          [CLI, "publish", "--zip", built.path, ...publishFlags(version)],
          { env: cliEnv },
        );
        return { pkg: p.ms, publish: u.ms, built, result: JSON.parse(u.stdout) };
      });

  const publishFlags = (version) => [
    "--subscription",
    SUB,
    "--resource-group",
    RG,
    "--account",
    ACCOUNT,
    "--application",
    "ffmpeg",
    "--version",
    version,
    "--set-default",
    "--arm-endpoint",
    arm.url,
    "--json",
  ];
  const oneCommand = (version, out) =>
    timed(
      process.execPath,
      [CLI, "publish", "--folder", folder, "--out", out, ...publishFlags(version)],
      { env: cliEnv },
    ).then((p) => ({ ms: p.ms, result: JSON.parse(p.stdout) }));

  const ourOne = async (r) => {
    // The same release as `ours`, as one command: its own version and out/ folder.
    const version = `7.1.${r}`;
    const out = path.join(tmp, `one-${r}`);
    const first = await oneCommand(version, out);
    if (first.result.outcome !== "published")
      throw new Error(`round ${r}: expected a publish, got ${first.result.outcome}`);
    t.oneFirst.push(first.ms);
    oneBytes = first.result.bytes;
    const again = await oneCommand(version, out);
    if (again.result.outcome !== "unchanged")
      throw new Error(`round ${r}: expected no change, got ${again.result.outcome}`);
    t.oneUnchanged.push(again.ms);
    oneUnchangedSent += again.result.bytesUploaded;
  };

  const ours = async (r) => {
    // First release of a new version: a fresh out/ (nothing to reuse), a version Azure lacks.
    const version = `6.1.${r}`;
    const out = path.join(tmp, `out-${r}`);
    const first = await release(version, out);
    if (first.result.outcome !== "published")
      throw new Error(`round ${r}: expected a publish, got ${first.result.outcome}`);
    t.package.push(first.pkg);
    t.publish.push(first.publish);
    t.first.push(first.pkg + first.publish);
    ourBytes = first.built.bytes;
    // Unchanged re-release: the same commands again, as a re-run pipeline does (no Pulumi state).
    const again = await release(version, out);
    if (again.result.outcome !== "unchanged")
      throw new Error(`round ${r}: expected no change, got ${again.result.outcome}`);
    t.repackage.push(again.pkg);
    t.republish.push(again.publish);
    t.unchanged.push(again.pkg + again.publish);
    unchangedSent += again.result.bytesUploaded;
  };

  const planOut = path.join(tmp, "plan");
  const oneOf = async (list, fn, label) => {
    try {
      list.push((await fn()).ms);
    } catch (err) {
      list.push(NaN);
      const first = String(err.message).split("\n").slice(0, 2).join(" / ");
      if (!notes.some((n) => n.startsWith(label))) notes.push(`${label}: ${first}`);
    }
  };

  try {
    for (let r = 1; r <= rounds; r++) {
      // Alternate which side goes first, so neither always finds the caches warmer.
      if (r % 2 === 1) {
        await classicPair(r);
        await ourOne(r);
        await ours(r);
      } else {
        await ours(r);
        await ourOne(r);
        await classicPair(r);
      }
    }
    // The quick commands: a warm-up run each, then timed rounds.
    const help = () => timed(process.execPath, [CLI, "--help"], { env: cliEnv });
    const version = () => timed(process.execPath, [CLI, "--version"], { env: cliEnv });
    const plan = () =>
      timed(process.execPath, [CLI, "plan", "--out-dir", planOut], { env: cliEnv });
    const npm = process.platform === "win32" ? "npm.cmd" : "npm";
    const npmPlan = () =>
      timed(npm, ["run", "--silent", "plan", "--", "--out-dir", planOut], { env: cliEnv });
    for (const [list, fn, label] of [
      [t.help, help, "hpc-batch --help"],
      [t.version, version, "hpc-batch --version"],
      [t.plan, plan, "hpc-batch plan"],
      [t.npmPlan, npmPlan, "npm run plan"],
    ]) {
      await oneOf([], fn, label);
      for (let r = 1; r <= rounds; r++) await oneOf(list, fn, label);
    }
  } finally {
    await arm.close();
    await azurite.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (arm.violations.length)
    throw new Error(`ARM stand-in contract violations: ${arm.violations.join("; ")}`);

  const row = (label, xs) =>
    console.log(
      `  ${label.padEnd(44)} ${xs
        .map((x) => (Number.isNaN(x) ? "failed" : secs(x)).padStart(8))
        .join(" ")}   median ${Number.isNaN(median(xs)) ? "failed" : secs(median(xs))}`,
    );
  console.log(`\neach command a separate process; times over ${rounds} rounds:`);
  row("classic: zip -r -X -6", t.zip);
  row(`classic: ${az ? "az storage blob upload" : "single-shot upload (SDK)"}`, t.upload);
  row("classic pair", t.classic);
  row("hpc-batch publish --folder, first release", t.oneFirst);
  row("hpc-batch publish --folder, unchanged", t.oneUnchanged);
  row("hpc-batch package (new version)", t.package);
  row("hpc-batch publish (new version)", t.publish);
  row("hpc-batch first release (package + publish)", t.first);
  row("hpc-batch package (unchanged)", t.repackage);
  row("hpc-batch publish (unchanged)", t.republish);
  row("hpc-batch unchanged re-release", t.unchanged);
  row("hpc-batch --help", t.help);
  row("hpc-batch --version", t.version);
  row("hpc-batch plan (warm)", t.plan);
  row("npm run plan (nothing changed)", t.npmPlan);

  const classic = median(t.classic);
  const results = [
    ["first release, one command / classic", median(t.oneFirst) / classic, 0.5, "x", ""],
    [
      "unchanged, one command / classic",
      median(t.oneUnchanged) / classic,
      0.1,
      "x",
      `${oneUnchangedSent} bytes sent`,
      oneUnchangedSent === 0,
    ],
    ["first release, two commands / classic", median(t.first) / classic, 0.5, "x", ""],
    [
      "unchanged, two commands / classic",
      median(t.unchanged) / classic,
      0.1,
      "x",
      `${unchangedSent} bytes sent`,
      unchangedSent === 0,
    ],
    ["zip size / Info-ZIP -6 zip size", ourBytes / infozipBytes, 1.1, "x", ""],
    ["hpc-batch --help", median(t.help) / 1000, 0.3, " s", ""],
    ["hpc-batch --version", median(t.version) / 1000, 0.3, " s", ""],
    ["npm run plan, nothing changed", median(t.npmPlan) / 1000, 3, " s", ""],
    ["hpc-batch plan, warm", median(t.plan) / 1000, 1.5, " s", ""],
  ];
  if (oneBytes !== ourBytes)
    throw new Error(
      `publish --folder built ${oneBytes} bytes, package ${ourBytes}: not the same zip`,
    );
  console.log(
    `\nzip: hpc-batch ${ourBytes.toLocaleString("en")} bytes, Info-ZIP -6 ${infozipBytes.toLocaleString("en")} bytes`,
  );
  console.log(`\n  ${"measure".padEnd(38)} ${"value".padStart(8)}   ${"target".padEnd(10)} result`);
  let failed = 0;
  for (const [label, value, max, unit, extra, extraOk = true] of results) {
    const ok = Number.isFinite(value) && value <= max && extraOk;
    if (!ok) failed++;
    const shown = Number.isFinite(value)
      ? `${value.toFixed(unit === "x" ? 3 : 2)}${unit === "x" ? "x" : " s"}`
      : "failed";
    console.log(
      `  ${label.padEnd(38)} ${shown.padStart(8)}   ${`<= ${max.toFixed(2)}${unit === "x" ? "x" : " s"}`.padEnd(10)} ${ok ? "PASS" : "FAIL"}${extra ? ` (${extra}${extraOk ? "" : ", target 0"})` : ""}`,
    );
  }
  for (const n of notes) console.log(`  note: ${n}`);
  console.log(`\n${failed === 0 ? "all targets met" : `${failed} target(s) missed`}`);
}

main().catch((err) => {
  console.error(`scripts/bench.js: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
