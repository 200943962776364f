/**
 * `hpc-batch publish --folder`: the zip built as `hpc-batch package` builds it and published in one
 * process, against the ARM stand-in and Azurite. A new version is uploaded while its zip is
 * written; nothing is written to Azure before the build has passed its checks.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { TokenCredential } from "@azure/identity";
import * as credentials from "../../lib/azure/credentials";
import { pendingRecordPath } from "../../lib/publish/pendingRecord";
import { runCli } from "../helpers";
import { fakeEntraToken, startAzurite, type Azurite } from "../../standins/azurite";
import { startArmBatchStandIn, type ArmBatchStandIn } from "../../standins/armBatchStandIn";
import { armIds } from "../support/fakeAzure";
import { git } from "../support/git";
import { pseudoRandom } from "../support/pseudoRandom";

const SUB = "00000000-0000-0000-0000-0000000000bf";
const RG = "rg-hpc";
const ACCOUNT = "bahpc03";
const APP_ID = armIds(SUB).application(RG, ACCOUNT, "ffmpeg");
const MiB = 1024 * 1024;

const token = fakeEntraToken();
let azurite: Azurite;
let dir: string;
let arm: ArmBatchStandIn | undefined;
const savedEnv = { ...process.env };

/** A package folder: a 5 MiB data file (two 4 MiB blocks once zipped) and a script. */
function appFolder(name: string, seed = 1): string {
  const folder = path.join(dir, name);
  fs.mkdirSync(path.join(folder, "bin"), { recursive: true });
  fs.writeFileSync(path.join(folder, "bin", "run.sh"), "#!/bin/sh\necho run\n", { mode: 0o755 });
  fs.writeFileSync(path.join(folder, "data.bin"), pseudoRandom(5 * MiB, seed));
  return folder;
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

beforeAll(async () => {
  azurite = await startAzurite();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-batch-cli-publish-folder-"));
}, 60_000);

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

async function standIn() {
  arm = await startArmBatchStandIn({
    azurite,
    subscriptionId: SUB,
    resourceGroup: RG,
    account: ACCOUNT,
    token,
  });
  return arm;
}

function publishArgs(a: { url: string }, extra: string[]): string[] {
  return [
    "publish",
    "--subscription",
    SUB,
    "--resource-group",
    RG,
    "--account",
    ACCOUNT,
    "--application",
    "ffmpeg",
    "--arm-endpoint",
    a.url,
    ...extra,
  ];
}

const WRITES = new Set(["PUT", "PATCH", "POST", "DELETE"]);

describe("hpc-batch publish --folder", () => {
  test("builds the zip package builds, uploads it while it is written, then a re-run is a no-op", async () => {
    const a = await standIn();
    const folder = appFolder("app");
    const out = path.join(dir, "out");
    const first = await runCli(
      publishArgs(a, ["--folder", folder, "--out", out, "--version", "2.0.0", "--set-default"]),
    );
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);

    // The zip is the one `hpc-batch package` builds from the same folder and version.
    const packaged = await runCli([
      "package",
      "--folder",
      folder,
      "--out",
      path.join(dir, "out-package"),
      "--version",
      "2.0.0",
      "--json",
    ]);
    expect(packaged.code).toBe(0);
    const built = JSON.parse(packaged.stdout) as { sha256: string; bytes: number };
    const zip = path.join(out, "ffmpeg-2.0.0.zip");
    const bytes = fs.readFileSync(zip);
    expect({ sha256: sha256(bytes), bytes: bytes.length }).toEqual({
      sha256: built.sha256,
      bytes: built.bytes,
    });
    const mb = (bytes.length / 1e6).toFixed(1);
    expect(Math.ceil(bytes.length / (4 * MiB))).toBe(2);

    // The build's line comes whenever the zip is complete, before the upload's own line.
    const lines = first.stdout.split("\n");
    const packageLine =
      `package: ${zip}: version 2.0.0 (from --version), 2 files, ${mb} MB, ` +
      `sha256 ${built.sha256.slice(0, 12)}`;
    const uploadLine = new RegExp(
      `^upload: ${mb.replace(".", "\\.")} MB sent in \\d+\\.\\d s \\(\\d+\\.\\d MB/s\\), 2 blocks, 0 reused$`,
    );
    expect(lines.filter((l) => l !== packageLine)).toEqual([
      "application ffmpeg: created (locked: allowUpdates false)",
      "version 2.0.0: created (Pending)",
      "upload: sending the zip while it is built",
      expect.stringMatching(uploadLine),
      "activate: version 2.0.0 is Active",
      "default version: 2.0.0; pools that reference ffmpeg without a version: nodes install it " +
        "when they join the pool, reboot or are reimaged; running nodes keep the version they " +
        "have until then",
      `published: ffmpeg 2.0.0 is Active (${mb} MB uploaded)`,
      "",
    ]);
    expect(lines.indexOf(packageLine)).toBeGreaterThanOrEqual(0);
    expect(lines.indexOf(packageLine)).toBeLessThan(lines.findIndex((l) => uploadLine.test(l)));

    // What was activated is this zip, with its sha256 recorded.
    const v = a.applications.get("ffmpeg")!.versions.get("2.0.0")!;
    expect(v.state).toBe("Active");
    const blob = azurite.service.getContainerClient(v.container).getBlobClient(v.blob);
    expect((await blob.getProperties()).metadata).toEqual({ sha256: built.sha256 });
    expect(sha256(await blob.downloadToBuffer())).toBe(built.sha256);
    expect(a.counts["PUT version"]).toBe(1);
    expect(a.counts["POST activate"]).toBe(1);
    // The upload URL was kept beside the zip only until the version was active.
    const record = pendingRecordPath(zip, {
      subscriptionId: SUB,
      resourceGroup: RG,
      account: ACCOUNT,
      applicationId: "ffmpeg",
      version: "2.0.0",
    });
    expect(path.dirname(record)).toBe(path.join(out, ".pending"));
    expect(fs.existsSync(record)).toBe(false);

    a.requests.length = 0;
    const again = await runCli(
      publishArgs(a, [
        "--folder",
        folder,
        "--out",
        out,
        "--version",
        "2.0.0",
        "--set-default",
        "--json",
      ]),
    );
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({
      zip,
      applicationId: "ffmpeg",
      version: "2.0.0",
      state: "Active",
      outcome: "unchanged",
      sha256: built.sha256,
      bytes: built.bytes,
      bytesUploaded: 0,
      activated: false,
      defaultVersion: "2.0.0",
      previousDefaultVersion: "2.0.0",
      deletedVersions: [],
      applicationResourceId: APP_ID,
      packageReference: { id: APP_ID, version: "2.0.0" },
    });
    // The zip in out/ is reused (no rebuild): its line first, then the no-op.
    expect(again.stderr).toBe(
      `${packageLine}\n` +
        "application ffmpeg: exists (locked)\n" +
        `version 2.0.0: already active with sha256 ${built.sha256.slice(0, 12)}; nothing to upload\n`,
    );
    expect(a.requests.map((r) => r.method)).toEqual(["GET", "GET"]);
  }, 120_000);

  test("a version computed from the folder's commits, as package computes it", async () => {
    const a = await standIn();
    const repo = path.join(dir, "repo");
    fs.mkdirSync(repo);
    git(repo, "init", "-q", "-b", "main");
    const folder = path.join(repo, "app");
    fs.mkdirSync(path.join(folder, "bin"), { recursive: true });
    fs.writeFileSync(path.join(folder, "bin", "run.sh"), "#!/bin/sh\necho v\n", { mode: 0o755 });
    git(repo, "add", "-A");
    git(repo, "commit", "-q", "-m", "feat: first");
    const out = path.join(dir, "out-repo");
    const res = await runCli(publishArgs(a, ["--folder", folder, "--out", out, "--json"]));
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({
      zip: path.join(out, "ffmpeg-1.0.0-rc.1.zip"),
      version: "1.0.0-rc.1",
      outcome: "published",
    });
    // A new version: the zip is streamed, so its line comes whenever it is complete.
    expect(res.stderr.split("\n").filter((l) => l.startsWith("package: "))).toEqual([
      expect.stringMatching(
        new RegExp(
          `^package: ${out}/ffmpeg-1\\.0\\.0-rc\\.1\\.zip: version 1\\.0\\.0-rc\\.1 \\(from 1 commit\\(s\\) since the start \\(no app-v\\* tag yet\\)\\), 1 files, 0\\.0 MB, sha256 [0-9a-f]{12}$`,
        ),
      ),
    ]);
    expect([...a.applications.get("ffmpeg")!.versions.keys()]).toEqual(["1.0.0-rc.1"]);

    // Uncommitted changes: the computed version would claim content no commit holds.
    fs.writeFileSync(path.join(folder, "bin", "run.sh"), "#!/bin/sh\necho changed\n");
    a.requests.length = 0;
    const dirty = await runCli(publishArgs(a, ["--folder", folder, "--out", out]));
    expect(dirty).toEqual({
      code: 2,
      stdout: "",
      stderr:
        `hpc-batch publish: --version (unset) is invalid: must be given: ${folder} has uncommitted ` +
        "changes, and the version computed from its last commit (1.0.0-rc.1) would be published " +
        "with content no commit holds; commit them, or pass --version\n",
    });
    expect(a.requests).toEqual([]);
  }, 60_000);

  test("a folder missing a file its stage.json requires: exit 2, nothing written to Azure", async () => {
    const a = await standIn();
    const folder = path.join(dir, "incomplete");
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, "README.md"), "readme\n");
    fs.writeFileSync(
      path.join(folder, "stage.json"),
      JSON.stringify({ files: [], required: ["bin/run.sh"] }),
    );
    const out = path.join(dir, "out-incomplete");
    const res = await runCli(
      publishArgs(a, ["--folder", folder, "--out", out, "--version", "1.0.0"]),
    );
    expect(res).toEqual({
      code: 2,
      stdout: "",
      stderr: `hpc-batch publish: package folder "${folder}" is invalid: must hold bin/run.sh, which stage.json lists as required\n`,
    });
    expect(a.requests.filter((r) => WRITES.has(r.method))).toEqual([]);
    expect(fs.existsSync(path.join(out, "ffmpeg-1.0.0.zip"))).toBe(false);
    expect(a.applications.size).toBe(0);
  });

  test("no credential: exit 1 with the fix, once the build is over; nothing sent", async () => {
    const a = await standIn();
    delete process.env.AZURE_ACCESS_TOKEN;
    // The credential chain as it fails on a machine with nothing to sign in with.
    const chain: TokenCredential = {
      getToken: async () => {
        throw Object.assign(new Error("ChainedTokenCredential authentication failed."), {
          name: "AggregateAuthenticationError",
          errors: [
            Object.assign(new Error("EnvironmentCredential is unavailable."), {
              name: "CredentialUnavailableError",
            }),
          ],
        });
      },
    };
    const spy = jest
      .spyOn(credentials, "resolveCredentials")
      .mockReturnValue({ arm: chain, storage: chain, source: "DefaultAzureCredential" });
    try {
      const folder = appFolder("app-nocred", 3);
      const out = path.join(dir, "out-nocred");
      const res = await runCli(
        publishArgs(a, ["--folder", folder, "--out", out, "--version", "3.0.0"]),
      );
      const zip = path.join(out, "ffmpeg-3.0.0.zip");
      const bytes = fs.readFileSync(zip);
      expect(res).toEqual({
        code: 1,
        // The build went on while the credential was checked, and ended before the command.
        stdout:
          `package: ${zip}: version 3.0.0 (from --version), 2 files, ` +
          `${(bytes.length / 1e6).toFixed(1)} MB, sha256 ${sha256(bytes).slice(0, 12)}\n`,
        stderr: `hpc-batch publish: no Azure credential for ${new URL(a.url).origin}/.default: run az login, or set AZURE_ACCESS_TOKEN to a token for it (a pipeline: AZURE_CLIENT_ID and AZURE_TENANT_ID with AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE)\n`,
      });
      expect(fs.readdirSync(out)).toEqual([".ffmpeg-3.0.0.zip.build.json", "ffmpeg-3.0.0.zip"]);
      expect(a.requests).toEqual([]);
    } finally {
      spy.mockRestore();
    }
  }, 60_000);

  test("a --out through a dangling link: refused before the credential chain and any request", async () => {
    const a = await standIn();
    const spy = jest.spyOn(credentials, "resolveCredentials");
    try {
      const folder = appFolder("app-dangling-out", 3);
      const out = path.join(dir, "out-dangling");
      fs.symlinkSync(path.join(dir, "gone"), out);
      const res = await runCli(
        publishArgs(a, ["--folder", folder, "--out", out, "--version", "3.0.0"]),
      );
      expect(res).toEqual({
        code: 2,
        stdout: "",
        stderr: `hpc-batch publish: --out ${JSON.stringify(out)} is invalid: must be a folder hpc-batch can create or write to: ${out} is a symbolic link to ${path.join(dir, "gone")}, which does not exist (remove the link, or create what it points to)\n`,
      });
      expect(spy).not.toHaveBeenCalled();
      expect(a.requests).toEqual([]);
    } finally {
      spy.mockRestore();
    }
  }, 60_000);

  test.each<[string, (f: { folder: string; zip: string; file: string }) => string[], string]>([
    [
      "--zip and --folder together",
      ({ folder, zip }) => ["--folder", folder, "--zip", zip, "--version", "1.0.0"],
      '--zip "ZIP" is invalid: must not be given with --folder (--zip publishes a built zip, --folder builds one and publishes it)',
    ],
    [
      "--out without --folder",
      ({ zip }) => ["--zip", zip, "--out", "elsewhere", "--version", "1.0.0"],
      '--out "elsewhere" is invalid: goes only with --folder (where the zip is built)',
    ],
    [
      "--folder that does not exist",
      () => ["--folder", "/nonexistent/app"],
      '--folder "/nonexistent/app" is invalid: must be an existing directory',
    ],
    [
      "--folder that is a file",
      ({ file }) => ["--folder", file],
      '--folder "FILE" is invalid: must be a directory, not a file',
    ],
  ])("%s: exit 2, the rule, nothing sent", async (_title, argsOf, message) => {
    const a = await standIn();
    const folder = path.join(dir, "flags");
    fs.mkdirSync(folder, { recursive: true });
    const file = path.join(folder, "notes.txt");
    fs.writeFileSync(file, "notes\n");
    const zip = path.join(dir, "flags.zip");
    // A zip's first bytes: --zip passes its own check, so only the combination is refused.
    fs.writeFileSync(zip, Buffer.from([0x50, 0x4b, 0x03, 0x04]));
    const res = await runCli(publishArgs(a, argsOf({ folder, zip, file })));
    expect(res).toEqual({
      code: 2,
      stdout: "",
      stderr: `hpc-batch publish: ${message.replace("ZIP", zip).replace("FILE", file)}\n`,
    });
    expect(a.requests).toEqual([]);
  });
});
