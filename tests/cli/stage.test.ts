import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runCli } from "../helpers";

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-cli-stage-"));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

// The folder is outside the project: the package comes from node_modules above the working
// directory (the repository, where jest runs).
test("stages from node_modules above the working directory, then reports it unchanged", async () => {
  const app = path.join(tmp, "app");
  fs.mkdirSync(app);
  fs.writeFileSync(
    path.join(app, "stage.json"),
    JSON.stringify({
      files: [{ from: "semver/package.json", to: "meta/semver.json", mode: "0644" }],
    }),
  );
  const source = path.join(process.cwd(), "node_modules", "semver", "package.json");
  const bytes = fs.statSync(source).size;
  const first = await runCli(["stage", "--folder", app]);
  expect(first).toEqual({
    code: 0,
    stderr: "",
    stdout: `copied    meta/semver.json (${bytes} bytes, 0644) from semver/package.json\n`,
  });
  const second = await runCli(["stage", "--folder", app, "--json"]);
  expect(second.code).toBe(0);
  expect(JSON.parse(second.stdout)).toEqual([
    {
      to: "meta/semver.json",
      from: "semver/package.json",
      source,
      action: "unchanged",
      mode: 0o644,
      bytes,
    },
  ]);
});

test("nothing to stage without stage.json; exit 2 on a bad manifest", async () => {
  const app = path.join(tmp, "app");
  fs.mkdirSync(app);
  expect(await runCli(["stage", "--folder", app])).toEqual({
    code: 0,
    stderr: "",
    stdout: `nothing to stage: ${app} has no stage.json entries\n`,
  });
  fs.writeFileSync(
    path.join(app, "stage.json"),
    JSON.stringify({ files: [{ from: "semver/package.json", to: "../x" }] }),
  );
  expect(await runCli(["stage", "--folder", app])).toEqual({
    code: 2,
    stdout: "",
    stderr: `hpc-batch stage: ${path.join(app, "stage.json")} files[0].to "../x" is invalid: must be a relative path inside the package folder (no '..', '.', '\\' or empty segments)\n`,
  });
});
