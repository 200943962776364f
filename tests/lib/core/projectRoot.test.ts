import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { findProjectRoot, projectPath } from "../../../lib/core/projectRoot";

let tmp: string;
let project: string;
beforeEach(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "hpc-root-")));
  project = path.join(tmp, "project");
  fs.mkdirSync(path.join(project, "docs", "deep"), { recursive: true });
  fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: hpc-batch\n");
  fs.writeFileSync(path.join(project, "package.json"), "{}\n");
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

test.each([
  ["the root itself", () => project],
  ["a subfolder", () => path.join(project, "docs")],
  ["a deeper subfolder", () => path.join(project, "docs", "deep")],
  ["a relative path", () => path.relative(process.cwd(), path.join(project, "docs"))],
])("finds the project from %s", (_what, start) => {
  expect(findProjectRoot(start())).toBe(project);
});

test("a folder with only one of the two markers is not the root: the walk goes on", () => {
  const inner = path.join(project, "policy");
  fs.mkdirSync(inner);
  fs.writeFileSync(path.join(inner, "package.json"), "{}\n");
  expect(findProjectRoot(inner)).toBe(project);
});

test("no project above: a clear error", () => {
  expect(() => findProjectRoot(tmp)).toThrow(
    `working directory ${JSON.stringify(tmp)} is invalid: must be inside an hpc-batch project: no folder at or above it holds both Pulumi.yaml and package.json (cd into the project, or give the paths explicitly)`,
  );
});

test("projectPath: a given path is the working directory's, a default the project root's", () => {
  const docs = path.join(project, "docs");
  expect(projectPath("app", "hpc-application", docs)).toBe(path.join(docs, "app"));
  expect(projectPath(undefined, "hpc-application", docs)).toBe(
    path.join(project, "hpc-application"),
  );
  expect(() => projectPath(undefined, "hpc-application", tmp)).toThrow(/^working directory/);
  expect(projectPath("/abs/app", "hpc-application", tmp)).toBe("/abs/app");
});
