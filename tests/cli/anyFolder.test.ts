/**
 * Commands find the project the way git does: from any subfolder, the defaults (the package
 * folder, out/, the Pulumi CLI's working folder) are the project root's.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runCli } from "../helpers";
import { compileCli, startCli } from "../support/cliProcess";

let tmp: string;
let project: string;
let docs: string;
const TOOL = "#!/bin/sh\necho tool\n";
const savedCwd = process.cwd();
const savedPath = process.env.PATH;

beforeEach(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "hpc-any-folder-")));
  project = path.join(tmp, "project");
  docs = path.join(project, "docs");
  const write = (rel: string, text: string, mode = 0o644) => {
    const abs = path.join(project, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, text, { mode });
  };
  write("Pulumi.yaml", "name: hpc-batch\nruntime: nodejs\n");
  write("package.json", '{"name": "my-hpc-app"}\n');
  write("node_modules/hpc-fake-tool/package.json", '{"name": "hpc-fake-tool", "version": "1.0.0"}');
  write("node_modules/hpc-fake-tool/tool", TOOL, 0o755);
  write(
    "hpc-application/stage.json",
    JSON.stringify({
      files: [{ from: "hpc-fake-tool/tool", version: "1.0.0", to: "bin/tool", mode: "0755" }],
      required: ["bin/run.sh"],
    }),
  );
  write("hpc-application/bin/run.sh", "#!/bin/sh\nexec ./tool\n", 0o755);
  fs.mkdirSync(docs);
  process.chdir(docs);
});
afterEach(() => {
  process.chdir(savedCwd);
  process.env.PATH = savedPath;
  fs.rmSync(tmp, { recursive: true, force: true });
});

test("stage then package from docs/: the project's folder, node_modules and out/", async () => {
  expect(await runCli(["stage"])).toEqual({
    code: 0,
    stderr: "",
    stdout: `copied    bin/tool (${TOOL.length} bytes, 0755) from hpc-fake-tool/tool\n`,
  });
  expect(fs.readFileSync(path.join(project, "hpc-application", "bin", "tool"), "utf8")).toBe(TOOL);

  const res = await runCli(["package", "--version", "1.0.0", "--json"]);
  expect([res.code, res.stderr]).toEqual([0, ""]);
  expect(JSON.parse(res.stdout).path).toBe(path.join(project, "out", "ffmpeg-1.0.0.zip"));
  expect(fs.readdirSync(docs)).toEqual([]);
});

test("the project's out/ a dangling link: named as the project's folder, not as --out", async () => {
  expect((await runCli(["stage"])).code).toBe(0);
  fs.symlinkSync(path.join(tmp, "gone"), path.join(project, "out"));
  const out = path.join(project, "out");
  expect(await runCli(["package", "--version", "1.0.0"])).toEqual({
    code: 2,
    stdout: "",
    stderr: `hpc-batch package: the project's out/ folder ${JSON.stringify(out)} is invalid: must be a folder hpc-batch can create or write to: ${out} is a symbolic link to ${path.join(tmp, "gone")}, which does not exist (remove the link, or create what it points to)\n`,
  });
});

test("a path given on the command line is the working directory's", async () => {
  fs.cpSync(path.join(project, "hpc-application"), path.join(docs, "app"), { recursive: true });
  fs.copyFileSync(
    path.join(project, "node_modules", "hpc-fake-tool", "tool"),
    path.join(docs, "app", "bin", "tool"),
  );
  const res = await runCli([
    "package",
    "--folder",
    "app",
    "--out",
    "zips",
    "--version",
    "2.0.0",
    "--json",
  ]);
  expect([res.code, res.stderr]).toEqual([0, ""]);
  expect(JSON.parse(res.stdout).path).toBe(path.join(docs, "zips", "ffmpeg-2.0.0.zip"));
});

test("verify asks the Pulumi CLI in the project root", async () => {
  // A stand-in for the Pulumi CLI: it answers only where the project is, naming that folder.
  const bin = path.join(tmp, "bin");
  fs.mkdirSync(bin);
  fs.writeFileSync(
    path.join(bin, "pulumi"),
    '#!/bin/sh\n[ -f Pulumi.yaml ] || { echo "error: no Pulumi.yaml project file found" >&2; exit 255; }\nprintf \'{"%s": "x"}\' "$(basename "$PWD")"\n',
    { mode: 0o755 },
  );
  // Its own process: the Pulumi CLI is found on the PATH it is given.
  const entry = compileCli();
  const res = await startCli(entry, ["verify", "--stack", "dev"], {
    cwd: docs,
    env: { PATH: `${bin}:${savedPath}` },
  }).done;
  expect(res.code).toBe(2);
  expect(res.stderr).toBe(
    'hpc-batch verify: pulumi stack output --stack dev ["project"] is invalid: must have the stack outputs subscriptionId, resourceGroupName, batchAccountName, batchAccountEndpoint, poolName or poolId, applicationId or batchApplicationId, applicationVersion or batchApplicationVersion\n',
  );
}, 60_000);

test.each([
  ["stage", ["stage"]],
  ["package", ["package", "--version", "1.0.0"]],
  ["local-run", ["local-run", "--version", "1.0.0"]],
])("%s outside any project, with no folder given: a clear error, exit 2", async (cmd, args) => {
  process.chdir(tmp);
  expect(await runCli(args)).toEqual({
    code: 2,
    stdout: "",
    stderr: `hpc-batch ${cmd}: working directory ${JSON.stringify(tmp)} is invalid: must be inside an hpc-batch project: no folder at or above it holds both Pulumi.yaml and package.json (cd into the project, or give the paths explicitly)\n`,
  });
});
