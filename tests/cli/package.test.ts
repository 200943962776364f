import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runCli } from "../helpers";
import { git } from "../support/git";

let tmp: string;
let app: string;
let out: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-cli-package-"));
  app = path.join(tmp, "hpc-application");
  out = path.join(tmp, "out");
  fs.mkdirSync(path.join(app, "bin"), { recursive: true });
  fs.writeFileSync(path.join(app, "bin", "run.sh"), "#!/bin/sh\necho run\n", { mode: 0o755 });
  fs.writeFileSync(path.join(app, "README.md"), "# app\n");
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

test("--out through a symbolic link whose target is gone: names the flag and the link, exit 2", async () => {
  fs.symlinkSync(path.join(tmp, "gone"), out);
  const res = await runCli(["package", "--folder", app, "--out", out, "--version", "1.0.0"]);
  expect(res).toEqual({
    code: 2,
    stdout: "",
    stderr: `hpc-batch package: --out ${JSON.stringify(out)} is invalid: must be a folder hpc-batch can create or write to: ${out} is a symbolic link to ${path.join(tmp, "gone")}, which does not exist (remove the link, or create what it points to)\n`,
  });
  expect(fs.readdirSync(tmp).sort()).toEqual(["hpc-application", "out"]);
});

test("--json prints exactly path, sha256, bytes, version and applicationId", async () => {
  const res = await runCli([
    "package",
    "--folder",
    app,
    "--out",
    out,
    "--version",
    "1.2.3",
    "--json",
  ]);
  expect([res.code, res.stderr]).toEqual([0, ""]);
  const zip = path.join(out, "ffmpeg-1.2.3.zip");
  expect(res.stdout).toBe(
    `${JSON.stringify({ path: zip, sha256: sha256(zip), bytes: fs.statSync(zip).size, version: "1.2.3", applicationId: "ffmpeg" })}\n`,
  );
  expect(Object.keys(JSON.parse(res.stdout))).toEqual([
    "path",
    "sha256",
    "bytes",
    "version",
    "applicationId",
  ]);
});

test("prints what it built, and the same bytes on a second run", async () => {
  const args = [
    "package",
    "--folder",
    app,
    "--out",
    out,
    "--application-id",
    "tools",
    "--version",
    "2.0.0",
  ];
  const res = await runCli(args);
  const zip = path.join(out, "tools-2.0.0.zip");
  expect(res).toEqual({
    code: 0,
    stderr: "",
    stdout: [
      `built ${zip}`,
      "  application  tools",
      "  version      2.0.0 (from --version)",
      "  files        2",
      `  bytes        ${fs.statSync(zip).size}`,
      `  sha256       ${sha256(zip)}`,
      "",
    ].join("\n"),
  });
  fs.utimesSync(path.join(app, "README.md"), new Date(2001, 1, 1), new Date(2001, 1, 1));
  const again = await runCli([...args, "--json"]);
  expect(JSON.parse(again.stdout).sha256).toBe(sha256(zip));
});

test.each([
  [
    "a missing folder",
    () => ["--folder", path.join(tmp, "nope"), "--version", "1.0.0"],
    () =>
      `package folder ${JSON.stringify(path.join(tmp, "nope"))} is invalid: must be an existing directory`,
  ],
  [
    "an empty folder",
    () => {
      fs.mkdirSync(path.join(tmp, "empty"));
      return ["--folder", path.join(tmp, "empty"), "--version", "1.0.0"];
    },
    () =>
      `package folder ${JSON.stringify(path.join(tmp, "empty"))} is invalid: must contain at least one file`,
  ],
  [
    "a symlink leading outside",
    () => {
      fs.symlinkSync("/etc/hostname", path.join(app, "bin", "host"));
      return ["--folder", app, "--version", "1.0.0"];
    },
    () =>
      `path in package folder ${JSON.stringify(app)} "bin/host" is invalid: must be a symlink to a file inside the folder (it points to "/etc/hostname", outside)`,
  ],
  [
    "a version with build metadata",
    () => ["--folder", app, "--version", "1.0.0+sha.abc"],
    () =>
      `--version "1.0.0+sha.abc" is invalid: must be 1 to 64 letters, digits, '-', '_' or '.', not starting with '.' ('+' is not allowed, so semver build metadata cannot be used as is)`,
  ],
  [
    "a bad application id",
    () => ["--folder", app, "--version", "1.0.0", "--application-id", "ff.mpeg"],
    () => `--application-id "ff.mpeg" is invalid: must be 1 to 64 letters, digits, '-' or '_'`,
  ],
  [
    "no version outside git",
    () => ["--folder", app],
    () =>
      `--version (unset) is invalid: must be set: ${app} is not in a git repository (git: fatal: not a git repository (or any of the parent directories): .git), so the version cannot be computed from commits`,
  ],
])("exits 2 on %s, writing no zip", async (_name, args, message) => {
  const res = await runCli(["package", ...args(), "--out", out, "--json"]);
  expect(res).toEqual({ code: 2, stdout: "", stderr: `hpc-batch package: ${message()}\n` });
  expect(fs.existsSync(out)).toBe(false);
});

test("computes the version from git when --version is absent, and warns about uncommitted changes", async () => {
  git(tmp, "init", "-q", "-b", "main");
  git(tmp, "add", "-A");
  git(tmp, "commit", "-q", "-m", "feat: first package");
  git(tmp, "tag", "app-v1.0.0");
  fs.writeFileSync(path.join(app, "bin", "run.sh"), "#!/bin/sh\necho run faster\n");
  git(tmp, "commit", "-q", "-am", "perf: faster run");
  const res = await runCli(["package", "--folder", app, "--out", out, "--json"]);
  expect([res.code, res.stderr, JSON.parse(res.stdout).version]).toEqual([0, "", "1.0.1-rc.1"]);
  const committed = JSON.parse(res.stdout).sha256 as string;

  // Uncommitted changes: the version is provisional, so the zip is replaced, and both are said.
  fs.writeFileSync(path.join(app, "new.txt"), "uncommitted\n");
  const human = await runCli(["package", "--folder", app, "--out", out]);
  expect(human.code).toBe(0);
  expect(human.stdout).toContain("  version      1.0.1-rc.1 (from 1 commit(s) since app-v1.0.0)\n");
  const zip = path.join(out, "ffmpeg-1.0.1-rc.1.zip");
  expect(human.stderr).toBe(
    `hpc-batch package: warning: ${app} has uncommitted changes; version 1.0.1-rc.1 describes its last commit\n` +
      `hpc-batch package: warning: replaced ${zip} (version 1.0.1-rc.1, sha256 ${committed.slice(0, 12)}...) with other content (sha256 ${sha256(zip).slice(0, 12)}...); never publish both under one version\n`,
  );
});

describe("a package holds what its folder declares", () => {
  const FFMPEG_FROM = "@ffmpeg-installer/linux-x64/ffmpeg";
  const stageJson = (manifest: object) =>
    fs.writeFileSync(path.join(app, "stage.json"), JSON.stringify(manifest));
  let cwd: string;
  beforeEach(() => {
    cwd = process.cwd();
  });
  afterEach(() => process.chdir(cwd));

  test("nothing staged and the npm package absent: refuses, names the file and the fix, writes nothing", async () => {
    stageJson({ files: [{ from: FFMPEG_FROM, version: "4.1.0", to: "bin/ffmpeg", mode: "0755" }] });
    // Outside the repository, whose node_modules has the package.
    process.chdir(tmp);
    const res = await runCli(["package", "--folder", app, "--out", out, "--version", "1.0.0"]);
    expect(res).toEqual({
      code: 2,
      stdout: "",
      stderr: `hpc-batch package: package folder ${JSON.stringify(app)} is invalid: must hold bin/ffmpeg, which stage.json copies from ${FFMPEG_FROM}, and @ffmpeg-installer/linux-x64 is not installed: run npm ci (it installs @ffmpeg-installer/linux-x64, an optional dependency, on the platforms it supports), then stage it (npm run stage-app, or hpc-batch stage --folder ${app})\n`,
    });
    expect(fs.existsSync(out)).toBe(false);
  });

  test("installed but not staged, and a required file missing: every problem, one line each", async () => {
    stageJson({
      files: [{ from: "semver/package.json", to: "meta/semver.json" }],
      required: ["bin/run.sh", "bin/transcode.sh"],
    });
    const res = await runCli(["package", "--folder", app, "--out", out, "--version", "1.0.0"]);
    expect(res).toEqual({
      code: 2,
      stdout: "",
      stderr:
        `hpc-batch package: package folder ${JSON.stringify(app)} is invalid: must hold meta/semver.json, which stage.json copies from semver/package.json: stage it first (npm run stage-app, or hpc-batch stage --folder ${app})\n` +
        `package folder ${JSON.stringify(app)} is invalid: must hold bin/transcode.sh, which stage.json lists as required\n`,
    });
    expect(fs.existsSync(out)).toBe(false);
  });

  test("once staged, the package builds", async () => {
    stageJson({ files: [{ from: "semver/package.json", to: "meta/semver.json" }] });
    expect((await runCli(["stage", "--folder", app])).code).toBe(0);
    const res = await runCli(["package", "--folder", app, "--out", out, "--version", "1.0.0"]);
    expect([res.code, res.stderr]).toEqual([0, ""]);
    expect(res.stdout).toContain("  files        4\n"); // README.md, bin/run.sh, meta/semver.json, stage.json
  });
});

describe("a built version keeps its content", () => {
  const args = () => ["package", "--folder", app, "--out", out, "--version", "1.0.0", "--json"];

  test("other content under the same version is refused, the zip untouched; --replace overwrites it and says so", async () => {
    const first = await runCli(args());
    expect(first.code).toBe(0);
    const zip = path.join(out, "ffmpeg-1.0.0.zip");
    const before = fs.readFileSync(zip);
    const old = sha256(zip);
    fs.writeFileSync(path.join(app, "README.md"), "# app, changed\n");

    const refused = await runCli(args());
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toMatch(
      new RegExp(
        `^hpc-batch package: --version "1\\.0\\.0" is invalid: ${zip.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} already holds version 1\\.0\\.0 with other content \\(sha256 ${old.slice(0, 12)}\\.\\.\\., now [0-9a-f]{12}\\.\\.\\.\\); a version keeps its content once published \\(Batch never replaces an active version\\): pass another --version, or --replace to overwrite the local zip\\n$`,
      ),
    );
    expect(fs.readFileSync(zip).equals(before)).toBe(true);
    expect(fs.readdirSync(out).sort()).toEqual([
      ".ffmpeg-1.0.0.zip.build.json",
      "ffmpeg-1.0.0.zip",
    ]);

    const replaced = await runCli([...args(), "--replace"]);
    expect(replaced.code).toBe(0);
    expect(JSON.parse(replaced.stdout).sha256).toBe(sha256(zip));
    expect(replaced.stderr).toBe(
      `hpc-batch package: warning: replaced ${zip} (version 1.0.0, sha256 ${old.slice(0, 12)}...) with other content (sha256 ${sha256(zip).slice(0, 12)}...); never publish both under one version\n`,
    );
    // The refused build's sha256 is the one --replace wrote.
    expect(refused.stderr).toContain(`now ${sha256(zip).slice(0, 12)}...`);
  });

  test("the same content under the same version is no change: no refusal, no warning", async () => {
    expect((await runCli(args())).code).toBe(0);
    fs.utimesSync(path.join(app, "README.md"), new Date(2001, 1, 1), new Date(2001, 1, 1));
    expect(await runCli(args())).toMatchObject({ code: 0, stderr: "" });
  });
});
