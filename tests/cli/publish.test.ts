import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as yazl from "yazl";
import {
  ACCOUNT_NAME_RULE,
  APPLICATION_ID_RULE,
  APPLICATION_VERSION_RULE,
  RESOURCE_GROUP_NAME_RULE,
} from "../../lib/core/naming";
import { buildPackage, type PackageInfo } from "../../lib/package/zip";
import { runCli } from "../helpers";
import { fakeEntraToken, startAzurite, type Azurite } from "../../standins/azurite";
import { startBatchStandIn } from "../../standins/batchStandIn";
import {
  startArmBatchStandIn,
  type ArmBatchStandIn,
  type ArmBatchStandInOptions,
} from "../../standins/armBatchStandIn";
import { armIds } from "../support/fakeAzure";

const SUB = "00000000-0000-0000-0000-0000000000bb";
const RG = "rg-hpc";
const ACCOUNT = "bahpc02";
const APP_ID = armIds(SUB).application(RG, ACCOUNT, "ffmpeg");
const FFMPEG = path.join(
  __dirname,
  "..",
  "..",
  "node_modules",
  "@ffmpeg-installer",
  "linux-x64",
  "ffmpeg",
);

const token = fakeEntraToken();
let azurite: Azurite;
let dir: string;
let arm: ArmBatchStandIn | undefined;
let ffmpegZip: PackageInfo;
const savedEnv = { ...process.env };

beforeAll(async () => {
  azurite = await startAzurite();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-batch-cli-publish-"));
  // The real package: the staged static ffmpeg (68 MB) and a wrapper, zipped by `buildPackage`.
  const folder = path.join(dir, "hpc-application");
  fs.mkdirSync(path.join(folder, "bin"), { recursive: true });
  fs.copyFileSync(FFMPEG, path.join(folder, "bin", "ffmpeg"));
  fs.chmodSync(path.join(folder, "bin", "ffmpeg"), 0o755);
  fs.writeFileSync(
    path.join(folder, "bin", "transcode.sh"),
    '#!/bin/sh\nexec "$(dirname "$0")/ffmpeg" "$@"\n',
    { mode: 0o755 },
  );
  ffmpegZip = await buildPackage({
    folder,
    outDir: path.join(dir, "out"),
    applicationId: "ffmpeg",
    version: "6.1.0",
  });
}, 120_000);

afterAll(async () => {
  // Undefined when startup failed: let that error be the one reported.
  await azurite?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  process.env.AZURE_ACCESS_TOKEN = token;
  delete process.env.AZURE_STORAGE_ACCESS_TOKEN;
});

afterEach(async () => {
  process.env = { ...savedEnv };
  // Close before asserting, so a violation cannot leave the stand-in running.
  const violations = arm?.violations;
  await arm?.close();
  arm = undefined;
  if (violations) expect(violations).toEqual([]);
});

async function standIn(extra: Partial<ArmBatchStandInOptions> = {}) {
  arm = await startArmBatchStandIn({
    azurite,
    subscriptionId: SUB,
    resourceGroup: RG,
    account: ACCOUNT,
    token,
    ...extra,
  });
  return arm;
}

async function smallZip(name: string, text: string): Promise<string> {
  const file = path.join(dir, `${name}.zip`);
  const z = new yazl.ZipFile();
  z.addBuffer(Buffer.from(text), "bin/run.sh", { mtime: new Date(1980, 0, 1), mode: 0o100755 });
  z.end();
  await new Promise<void>((resolve, reject) =>
    z.outputStream.pipe(fs.createWriteStream(file)).on("close", resolve).on("error", reject),
  );
  return file;
}

function flags(
  a: { url: string } | undefined,
  over: Record<string, string | undefined> = {},
  extra: string[] = [],
) {
  const base: Record<string, string | undefined> = {
    "--zip": ffmpegZip.path,
    "--subscription": SUB,
    "--resource-group": RG,
    "--account": ACCOUNT,
    "--application": "ffmpeg",
    "--version": "6.1.0",
    "--arm-endpoint": a?.url ?? "https://127.0.0.1:9",
    ...over,
  };
  const argv = ["publish"];
  for (const [k, v] of Object.entries(base)) if (v !== undefined) argv.push(k, v);
  return [...argv, ...extra];
}

describe("hpc-batch publish: bad flags", () => {
  let notZip: string;
  beforeAll(() => {
    notZip = path.join(dir, "notes.txt");
    fs.writeFileSync(notZip, "not a zip");
  });

  test.each<[string, Record<string, string | undefined>, string]>([
    [
      "missing --zip",
      { "--zip": undefined },
      "--zip (unset) is invalid: must be given (the package zip to publish, or --folder)",
    ],
    [
      "--zip missing on disk",
      { "--zip": "/nonexistent/ffmpeg.zip" },
      '--zip "/nonexistent/ffmpeg.zip" is invalid: must be a readable file',
    ],
    [
      "--zip not a zip",
      { "--zip": "NOTZIP" },
      '--zip "NOTZIP" is invalid: must be a zip file (it does not start with a zip entry)',
    ],
    [
      "missing --subscription",
      { "--subscription": undefined },
      "--subscription (unset) is invalid: must be given (the Azure subscription id)",
    ],
    [
      "--subscription not a GUID",
      { "--subscription": "my-sub" },
      '--subscription "my-sub" is invalid: must be a subscription id (a GUID)',
    ],
    [
      "--resource-group ending with a dot",
      { "--resource-group": "rg." },
      `--resource-group "rg." is invalid: ${RESOURCE_GROUP_NAME_RULE}`,
    ],
    [
      "--account with capitals",
      { "--account": "Bad_Account" },
      `--account "Bad_Account" is invalid: ${ACCOUNT_NAME_RULE}`,
    ],
    [
      "--application with a space",
      { "--application": "ff mpeg" },
      `--application "ff mpeg" is invalid: ${APPLICATION_ID_RULE}`,
    ],
    [
      "--version with build metadata",
      { "--version": "6.1.0+sha.5114f85" },
      `--version "6.1.0+sha.5114f85" is invalid: ${APPLICATION_VERSION_RULE}`,
    ],
    [
      "--retain above 40",
      { "--retain": "41" },
      "--retain 41 is invalid: must be a whole number from 1 to 40 (Batch allows 40 versions per application)",
    ],
    [
      "--retain not a number",
      { "--retain": "five" },
      '--retain "five" is invalid: must be a whole number from 1 to 40 (Batch allows 40 versions per application)',
    ],
    [
      "--batch-endpoint over http",
      { "--batch-endpoint": "http://bahpc02.westeurope.batch.azure.com" },
      '--batch-endpoint "http://bahpc02.westeurope.batch.azure.com" is invalid: must be the Batch account\'s endpoint, e.g. mybatch.westeurope.batch.azure.com or an https:// URL',
    ],
    [
      "--display-name empty",
      { "--display-name": " " },
      '--display-name " " is invalid: must not be empty',
    ],
    [
      "--arm-endpoint over http",
      { "--arm-endpoint": "http://management.azure.com" },
      '--arm-endpoint "http://management.azure.com" is invalid: must be an https:// URL of a Resource Manager endpoint, e.g. https://management.azure.com',
    ],
  ])("%s: exit 2, the rule, nothing sent", async (_title, over, message) => {
    const a = await standIn();
    const argv = flags(a, over["--arm-endpoint"] ? over : { "--arm-endpoint": a.url, ...over });
    const res = await runCli(argv.map((x) => (x === "NOTZIP" ? notZip : x)));
    expect(res).toEqual({
      code: 2,
      stdout: "",
      stderr: `hpc-batch publish: ${message.replace("NOTZIP", notZip)}\n`,
    });
    expect(a.requests).toEqual([]);
  });
});

describe("hpc-batch publish: every problem at once", () => {
  test("no flags: each required flag named, one line each, nothing sent", async () => {
    expect(await runCli(["publish"])).toEqual({
      code: 2,
      stdout: "",
      stderr: [
        "hpc-batch publish: --zip (unset) is invalid: must be given (the package zip to publish, or --folder)",
        "--subscription (unset) is invalid: must be given (the Azure subscription id)",
        "--resource-group (unset) is invalid: must be given (the Batch account's resource group)",
        "--account (unset) is invalid: must be given (the Batch account name)",
        "--application (unset) is invalid: must be given (the Batch application id)",
        "--version (unset) is invalid: must be given (the version to publish)",
        "",
      ].join("\n"),
    });
  });

  test("missing and invalid flags together, in the order of the usage line", async () => {
    const a = await standIn();
    const argv = flags(a, { "--subscription": "my-sub", "--account": undefined, "--retain": "0" }, [
      "--display-name",
      " ",
    ]);
    const res = await runCli(argv);
    expect(res).toEqual({
      code: 2,
      stdout: "",
      stderr: [
        'hpc-batch publish: --subscription "my-sub" is invalid: must be a subscription id (a GUID)',
        "--account (unset) is invalid: must be given (the Batch account name)",
        '--display-name " " is invalid: must not be empty',
        "--retain 0 is invalid: must be a whole number from 1 to 40 (Batch allows 40 versions per application)",
        "",
      ].join("\n"),
    });
    expect(a.requests).toEqual([]);
  });

  test("--help marks the required flags, and only them", async () => {
    const res = await runCli(["publish", "--help"]);
    expect(res.code).toBe(0);
    const marked = (mark: string) =>
      res.stdout
        .split("\n")
        .filter((l) => l.includes(mark))
        .map((l) => l.trim().split(/\s+/)[0]);
    expect(marked("(required)")).toEqual([
      "--subscription",
      "--resource-group",
      "--account",
      "--application",
    ]);
    expect(marked("(required, or --folder)")).toEqual(["--zip"]);
    expect(marked("(required with --zip)")).toEqual(["--version"]);
  });
});

describe("hpc-batch publish", () => {
  test("publishes the real 68 MB ffmpeg package, then a re-run is a no-op", async () => {
    const a = await standIn();
    const first = await runCli(flags(a, {}, ["--set-default", "--display-name", "FFmpeg"]));
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const mb = (ffmpegZip.bytes / 1e6).toFixed(1);
    expect(first.stdout.split("\n")).toEqual([
      "application ffmpeg: created (locked: allowUpdates false)",
      "version 6.1.0: created (Pending)",
      expect.stringMatching(
        new RegExp(
          `^upload: ${mb.replace(".", "\\.")} MB sent in \\d+\\.\\d s \\(\\d+\\.\\d MB/s\\), ${Math.ceil(ffmpegZip.bytes / (4 << 20))} blocks, 0 reused$`,
        ),
      ),
      "activate: version 6.1.0 is Active",
      "default version: 6.1.0; pools that reference ffmpeg without a version: nodes install it " +
        "when they join the pool, reboot or are reimaged; running nodes keep the version they " +
        "have until then",
      `published: ffmpeg 6.1.0 is Active (${mb} MB uploaded)`,
      "",
    ]);
    // The stand-in activated it only after downloading the blob and checking it is this zip.
    const v = a.applications.get("ffmpeg")!.versions.get("6.1.0")!;
    expect(v.state).toBe("Active");
    const blob = azurite.service.getContainerClient(v.container).getBlobClient(v.blob);
    const props = await blob.getProperties();
    expect(props.contentLength).toBe(ffmpegZip.bytes);
    expect(props.metadata).toEqual({ sha256: ffmpegZip.sha256 });
    expect(
      createHash("sha256")
        .update(await blob.downloadToBuffer())
        .digest("hex"),
    ).toBe(ffmpegZip.sha256);
    expect(a.requests.every((r) => r.headers.authorization === `Bearer ${token}`)).toBe(true);

    a.requests.length = 0;
    const again = await runCli(flags(a, {}, ["--set-default", "--json"]));
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({
      applicationId: "ffmpeg",
      version: "6.1.0",
      state: "Active",
      outcome: "unchanged",
      sha256: ffmpegZip.sha256,
      bytes: ffmpegZip.bytes,
      bytesUploaded: 0,
      activated: false,
      defaultVersion: "6.1.0",
      previousDefaultVersion: "6.1.0",
      deletedVersions: [],
      applicationResourceId: APP_ID,
      packageReference: { id: APP_ID, version: "6.1.0" },
    });
    // --json keeps stdout to the result; the step lines go to stderr.
    expect(again.stderr).toBe(
      "application ffmpeg: exists (locked)\n" +
        `version 6.1.0: already active with sha256 ${ffmpegZip.sha256.slice(0, 12)}; nothing to upload\n`,
    );
    expect(a.requests.map((r) => r.method)).toEqual(["GET", "GET"]);
  }, 120_000);

  test("a different zip under an active version: exit 1 with the bump message", async () => {
    const a = await standIn();
    const one = await smallZip("one", "echo one\n");
    const two = await smallZip("two", "echo two\n");
    expect((await runCli(flags(a, { "--zip": one, "--version": "2.0.0" }))).code).toBe(0);
    const sha = (f: string) =>
      createHash("sha256").update(fs.readFileSync(f)).digest("hex").slice(0, 12);
    const res = await runCli(flags(a, { "--zip": two, "--version": "2.0.0" }));
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(
      `hpc-batch publish: application ffmpeg version 2.0.0 is already active with different content ` +
        `(active sha256 ${sha(one)}, this zip ${sha(two)}): published versions are immutable; ` +
        "bump the version (for example to 2.0.1) and publish again\n",
    );
    expect(a.counts["PUT version"]).toBe(1);
    expect(a.counts["POST activate"]).toBe(1);
  });

  test("managed-identity auto-storage: uploads with the Entra token, no SAS", async () => {
    const a = await standIn({ storageAuth: "token" });
    const zip = await smallZip("mi", "echo mi\n");
    const res = await runCli(flags(a, { "--zip": zip, "--version": "3.0.0" }, ["--json"]));
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ outcome: "published", activated: true });
  });

  test("--set-default and --retain: the new default replaces the old one, which retention prunes under the lock", async () => {
    const a = await standIn();
    const batchToken = fakeEntraToken({ audience: "https://batch.core.windows.net" });
    const b = await startBatchStandIn({
      subscriptionId: SUB,
      resourceGroupName: RG,
      accountName: ACCOUNT,
      poolId: "render",
      applicationId: "ffmpeg",
      version: "1.0.1",
      pool: { targetDedicatedNodes: 0, nodes: [] },
      task: [],
      batchToken,
      armToken: token,
    });
    try {
      process.env.AZURE_BATCH_ACCESS_TOKEN = batchToken;
      const z1 = await smallZip("r1", "1\n");
      const z2 = await smallZip("r2", "2\n");
      expect(
        (await runCli(flags(a, { "--zip": z1, "--version": "1.0.0" }, ["--set-default"]))).code,
      ).toBe(0);
      const res = await runCli(
        flags(
          a,
          { "--zip": z2, "--version": "1.0.1", "--retain": "1", "--batch-endpoint": b.url },
          ["--set-default"],
        ),
      );
      expect(res.code).toBe(0);
      expect(res.stdout.split("\n").slice(-5)).toEqual([
        "application ffmpeg: unlocked (allowUpdates true) to delete versions",
        "application ffmpeg: locked again (allowUpdates false)",
        "retention: kept 1 (1.0.1), deleted 1.0.0",
        "published: ffmpeg 1.0.1 is Active (0.0 MB uploaded)",
        "",
      ]);
      expect([...a.applications.get("ffmpeg")!.versions.keys()]).toEqual(["1.0.1"]);
      expect(a.applications.get("ffmpeg")!.allowUpdates).toBe(false);
      expect(b.calls()).toEqual(["GET /jobs"]);
      expect(b.violations).toEqual([]);
    } finally {
      await b.close();
    }
  });

  test("--retain without a Batch token next to AZURE_ACCESS_TOKEN: nothing deleted, the reason shown", async () => {
    const a = await standIn();
    const z1 = await smallZip("s1", "1\n");
    const z2 = await smallZip("s2", "2\n");
    await runCli(flags(a, { "--zip": z1, "--version": "1.0.0" }, ["--set-default"]));
    const res = await runCli(
      flags(a, { "--zip": z2, "--version": "1.0.1", "--retain": "1" }, ["--set-default"]),
    );
    expect(res.code).toBe(0);
    expect(res.stdout.split("\n").slice(-3)).toEqual([
      "retention: skipped, nothing deleted: the running jobs' package references cannot be read " +
        "(AZURE_ACCESS_TOKEN is set but AZURE_BATCH_ACCESS_TOKEN is not (a token has one audience)), " +
        "so no version is known to be unused; would delete 1.0.0 (the release itself succeeded)",
      "published: ffmpeg 1.0.1 is Active (0.0 MB uploaded)",
      "",
    ]);
    expect([...a.applications.get("ffmpeg")!.versions.keys()]).toEqual(["1.0.0", "1.0.1"]);
  });
});
