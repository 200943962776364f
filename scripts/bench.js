#!/usr/bin/env node
// `npm run bench` (builds first): publishes the staged ffmpeg folder to Azurite through the ARM
// stand-in, and measures in the same run the classic pair it replaces: Info-ZIP `zip -r -X -6`
// plus a single-shot upload of that zip (`az storage blob upload` when installed, else the storage
// SDK's `uploadFile`, one Put Blob below 256 MB). Prints medians of a few rounds and the ratios:
//   first release / classic pair      target <= 0.5
//   zip size / Info-ZIP zip size      target <= 1.10
//   unchanged re-release / classic    target <= 0.05, with zero bytes uploaded
// The hpc-batch side runs the built code (dist/lib); the stand-ins are the suite's own
// (tests/support/*.ts), transpiled on load. Like `npm test`, it makes a throwaway TLS certificate
// and re-runs itself with NODE_EXTRA_CA_CERTS, which Node reads only at start-up.
// Options: --rounds N (default 3).
"use strict";
const { execFileSync, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { makeTestTls } = require("./tls");

const root = path.join(__dirname, "..");

if (!process.env.HPC_BATCH_BENCH_CHILD) {
  const tls = makeTestTls("scripts/bench.js");
  const res = spawnSync(process.execPath, [__filename, ...process.argv.slice(2)], {
    stdio: "inherit",
    env: {
      ...process.env,
      HPC_BATCH_BENCH_CHILD: "1",
      ...tls.env,
    },
  });
  tls.remove();
  process.exit(res.status === null ? 1 : res.status);
}

// ---- child: the benchmark itself -------------------------------------------------------------

// Load the suite's TypeScript stand-ins without a build step.
const ts = require("typescript");
require.extensions[".ts"] = (module, filename) => {
  const out = ts.transpileModule(fs.readFileSync(filename, "utf8"), {
    fileName: filename,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
    },
  });
  module._compile(out.outputText, filename);
};

const dist = (m) => {
  const file = path.join(root, "dist", "lib", `${m}.js`);
  if (!fs.existsSync(file)) {
    console.error(
      `scripts/bench.js: ${path.relative(root, file)} is missing: run \`npm run bench\` (it builds first)`,
    );
    process.exit(2);
  }
  return require(file);
};
const { buildPackage } = dist("zip");
const { publishPackage } = dist("publish");
const { staticTokenCredential } = dist("credentials");
const { startAzurite, fakeEntraToken } = require(path.join(root, "tests", "support", "azurite.ts"));
const { startArmBatchStandIn } = require(path.join(root, "tests", "support", "armBatchStandIn.ts"));
const { BlockBlobClient } = require("@azure/storage-blob");

const SUB = "00000000-0000-0000-0000-00000000be0c";
const RG = "rg-bench";
const ACCOUNT = "babench";

function which(cmd) {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const secs = (ms) => `${(ms / 1000).toFixed(2)} s`;
const since = (t) => Number(process.hrtime.bigint() - t) / 1e6;
const now = () => process.hrtime.bigint();

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
  const rounds = Number(process.argv[process.argv.indexOf("--rounds") + 1]) || 3;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-batch-bench-"));
  const { folder, note } = stagedFolder(tmp);
  const size = folderSize(folder);
  const zipBin = which("zip");
  const az = which("az");
  const token = fakeEntraToken();
  const credential = staticTokenCredential(token);

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
  const container = azurite.service.getContainerClient("classic");
  await container.create();

  console.log(
    `hpc-batch bench: node ${process.version}, ${os.cpus().length} cores, Azurite over HTTPS, ARM stand-in`,
  );
  console.log(
    `package folder: ${note}: ${(size.bytes / 1e6).toFixed(1)} MB in ${size.files} files`,
  );
  if (!zipBin)
    console.log(
      "Info-ZIP `zip` is not installed: the classic pair and the ratios against it are skipped",
    );
  console.log(
    `classic upload: ${az ? "az storage blob upload" : "@azure/storage-blob uploadFile (azure-cli is not installed)"}`,
  );

  // Warm the page cache so the first round does not pay for the disk.
  fs.readFileSync(path.join(folder, "bin", "ffmpeg"));

  const times = {
    zip: [],
    upload: [],
    classic: [],
    build: [],
    publish: [],
    first: [],
    rebuild: [],
    noop: [],
    unchanged: [],
  };
  let infozipBytes;
  let ourBytes;
  let noopUploaded = 0;
  const target = {
    endpoint: arm.url,
    credential,
    subscriptionId: SUB,
    resourceGroup: RG,
    account: ACCOUNT,
  };

  try {
    for (let r = 1; r <= rounds; r++) {
      // Classic pair.
      if (zipBin) {
        const classicZip = path.join(tmp, `classic-${r}.zip`);
        let t = now();
        execFileSync(zipBin, ["-q", "-r", "-X", "-6", classicZip, "."], { cwd: folder });
        times.zip.push(since(t));
        infozipBytes = fs.statSync(classicZip).size;
        t = now();
        const blobName = `ffmpeg-classic-${r}.zip`;
        if (az) {
          execFileSync(
            az,
            [
              "storage",
              "blob",
              "upload",
              "--overwrite",
              "--only-show-errors",
              "--blob-url",
              azurite.sasUrl("classic", blobName),
              "--file",
              classicZip,
            ],
            {
              stdio: "pipe",
              env: { ...process.env, REQUESTS_CA_BUNDLE: process.env.HPC_BATCH_TEST_TLS_CERT },
            },
          );
        } else {
          await new BlockBlobClient(azurite.sasUrl("classic", blobName)).uploadFile(classicZip);
        }
        times.upload.push(since(t));
        times.classic.push(times.zip.at(-1) + times.upload.at(-1));
      }

      // First release of a new version: build (no earlier build to reuse) + publish.
      const version = `6.1.${r}`;
      const outDir = path.join(tmp, `out-${r}`);
      let t = now();
      const pkg = await buildPackage({ folder, outDir, applicationId: "ffmpeg", version });
      times.build.push(since(t));
      const t2 = now();
      const first = await publishPackage({
        target,
        storageCredential: credential,
        applicationId: "ffmpeg",
        version,
        package: pkg,
        setDefault: true,
      });
      times.publish.push(since(t2));
      times.first.push(since(t));
      ourBytes = pkg.bytes;
      if (first.outcome !== "published")
        throw new Error(`round ${r}: expected a publish, got ${first.outcome}`);

      // Unchanged re-release: the same build and publish again, from scratch (no Pulumi state).
      t = now();
      const again = await buildPackage({ folder, outDir, applicationId: "ffmpeg", version });
      times.rebuild.push(since(t));
      const t3 = now();
      const noop = await publishPackage({
        target,
        storageCredential: credential,
        applicationId: "ffmpeg",
        version,
        package: again,
        setDefault: true,
      });
      times.noop.push(since(t3));
      times.unchanged.push(since(t));
      if (noop.outcome !== "unchanged")
        throw new Error(`round ${r}: expected a no-op, got ${noop.outcome}`);
      noopUploaded += noop.bytesUploaded;
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
      `  ${label.padEnd(40)} ${xs
        .map(secs)
        .map((s) => s.padStart(8))
        .join(" ")}   median ${secs(median(xs))}`,
    );
  console.log(`\ntimes over ${rounds} rounds:`);
  if (zipBin) {
    row("classic: zip -r -X -6", times.zip);
    row("classic: single-shot upload", times.upload);
    row("classic pair", times.classic);
  }
  row("hpc-batch build (buildPackage)", times.build);
  row("hpc-batch publish (new version)", times.publish);
  row("first release (build + publish)", times.first);
  row("unchanged: build (reuses the zip)", times.rebuild);
  row("unchanged: publish (no-op)", times.noop);
  row("unchanged re-release", times.unchanged);
  console.log(
    `\nzip: hpc-batch ${ourBytes.toLocaleString("en")} bytes` +
      (infozipBytes ? `, Info-ZIP -6 ${infozipBytes.toLocaleString("en")} bytes` : ""),
  );

  if (!zipBin) return;
  const classic = median(times.classic);
  const verdict = (v, max) => (v <= max ? "ok" : "MISSED");
  const first = median(times.first) / classic;
  const sizeRatio = ourBytes / infozipBytes;
  const unchanged = median(times.unchanged) / classic;
  console.log("\nratios:");
  console.log(
    `  first release / classic pair        ${first.toFixed(3)}   target <= 0.5    ${verdict(first, 0.5)}`,
  );
  console.log(
    `  zip size / Info-ZIP zip size        ${sizeRatio.toFixed(3)}   target <= 1.10   ${verdict(sizeRatio, 1.1)}`,
  );
  console.log(
    `  unchanged re-release / classic pair ${unchanged.toFixed(3)}   target <= 0.05   ${verdict(unchanged, 0.05)}` +
      `, ${noopUploaded} bytes uploaded (target 0) ${noopUploaded === 0 ? "ok" : "MISSED"}`,
  );
}

main().catch((err) => {
  console.error(`scripts/bench.js: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
