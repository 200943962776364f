import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { InputError } from "../../../lib/core/errors";
import {
  checkOutputDir,
  makeOutputDir,
  makeOutputDirSync,
  OUTPUT_DIR_RULE,
  outputDirObstacle,
} from "../../../lib/core/outputDir";

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-outdir-"));
  fs.mkdirSync(path.join(tmp, "folder"));
  fs.writeFileSync(path.join(tmp, "file"), "x");
  fs.symlinkSync(path.join(tmp, "gone"), path.join(tmp, "dangling"));
  fs.symlinkSync(path.join(tmp, "folder"), path.join(tmp, "to-folder"));
  fs.symlinkSync(path.join(tmp, "file"), path.join(tmp, "to-file"));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

const dangling = () =>
  `${path.join(tmp, "dangling")} is a symbolic link to ${path.join(tmp, "gone")}, which does not exist (remove the link, or create what it points to)`;

// [case, the dir asked for (relative to tmp), the obstacle expected]
const obstacles: [string, string, () => string][] = [
  ["the folder itself a dangling link", "dangling", dangling],
  ["a parent a dangling link", "dangling/out/plans", dangling],
  ["the folder itself a file", "file", () => `${path.join(tmp, "file")} is a file, not a folder`],
  ["a parent a file", "file/out", () => `${path.join(tmp, "file")} is a file, not a folder`],
  [
    "a link to a file",
    "to-file/out",
    () =>
      `${path.join(tmp, "to-file")} is a symbolic link to ${path.join(tmp, "file")}, not to a folder`,
  ],
];

describe.each([
  ["makeOutputDir", (dir: string) => makeOutputDir(dir, "--out", dir)],
  ["makeOutputDirSync", async (dir: string) => makeOutputDirSync(dir, "--out", dir)],
])("%s", (_name, make) => {
  test.each(obstacles)(
    "%s: an InputError naming the field and the obstacle",
    async (_c, rel, why) => {
      const dir = path.join(tmp, rel);
      const err = await make(dir).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InputError);
      expect(err).toMatchObject({
        field: "--out",
        value: dir,
        rule: `${OUTPUT_DIR_RULE}: ${why()}`,
      });
    },
  );

  test.each([
    ["a new nested folder", "a/b/c"],
    ["an existing folder", "folder"],
    ["a folder through a link to a folder", "to-folder/new"],
  ])("%s is made (or kept)", async (_c, rel) => {
    await make(path.join(tmp, rel));
    expect(fs.statSync(path.join(tmp, rel)).isDirectory()).toBe(true);
  });
});

test("outputDirObstacle finds none for a path that can be made", () => {
  expect(outputDirObstacle(path.join(tmp, "a", "b"))).toBeUndefined();
  expect(outputDirObstacle(path.join(tmp, "to-folder", "x"))).toBeUndefined();
});

test("a relative link's target is shown as a path; a chain ending nowhere says so", () => {
  fs.symlinkSync("gone-rel", path.join(tmp, "rel"));
  expect(outputDirObstacle(path.join(tmp, "rel", "out"))).toBe(
    `${path.join(tmp, "rel")} is a symbolic link to ${path.join(tmp, "gone-rel")}, which does not exist (remove the link, or create what it points to)`,
  );
  fs.symlinkSync("dangling", path.join(tmp, "chain"));
  expect(outputDirObstacle(path.join(tmp, "chain"))).toBe(
    `${path.join(tmp, "chain")} is a symbolic link to ${path.join(tmp, "dangling")}, which leads, through another link, to a path that does not exist (remove the link, or create what it points to)`,
  );
});

test("checkOutputDir refuses what cannot be made and makes nothing", () => {
  expect(() => checkOutputDir(path.join(tmp, "file", "out"), "--out-dir", "x")).toThrow(
    `--out-dir "x" is invalid: ${OUTPUT_DIR_RULE}: ${path.join(tmp, "file")} is a file, not a folder`,
  );
  checkOutputDir(path.join(tmp, "new", "folder"), "--out-dir", "y");
  expect(fs.existsSync(path.join(tmp, "new"))).toBe(false);
});
