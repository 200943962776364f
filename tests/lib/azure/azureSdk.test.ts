import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  armSdk,
  identitySdk,
  SDK_BUNDLE_FILES,
  storageBlobSdk,
  useSdkBundles,
} from "../../../lib/azure/azureSdk";
import { sdkBundles } from "../../../cli/main";

let tmp: string;
beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-azuresdk-"))));
afterEach(() => {
  useSdkBundles({});
  fs.rmSync(tmp, { recursive: true, force: true });
});

/* eslint-disable @typescript-eslint/no-require-imports */
test("by default, the installed packages", () => {
  expect(armSdk().armBatch).toBe(require("@azure/arm-batch"));
  expect(armSdk().rest).toBe(require("@azure/core-rest-pipeline"));
  expect(storageBlobSdk()).toBe(require("@azure/storage-blob"));
  expect(identitySdk()).toBe(require("@azure/identity"));
});

test("given bundles, each from its file; the packages for the ones not given; {} resets", () => {
  const file = (name: string, text: string) => {
    fs.writeFileSync(path.join(tmp, name), text);
    return path.join(tmp, name);
  };
  useSdkBundles({
    arm: file("a.js", 'exports.armBatch = { m: "arm" }; exports.rest = { m: "rest" };'),
    identity: file("i.js", 'module.exports = { m: "identity" };'),
  });
  expect(armSdk()).toEqual({ armBatch: { m: "arm" }, rest: { m: "rest" } });
  expect(identitySdk()).toEqual({ m: "identity" });
  expect(storageBlobSdk()).toBe(require("@azure/storage-blob"));
  useSdkBundles({});
  expect(armSdk().armBatch).toBe(require("@azure/arm-batch"));
  expect(identitySdk()).toBe(require("@azure/identity"));
});
/* eslint-enable @typescript-eslint/no-require-imports */

test("the CLI's bundles are the files of <dist>/vendor/ that exist, for <dist>/cli", () => {
  const cli = path.join(tmp, "cli");
  fs.mkdirSync(cli);
  expect(sdkBundles(cli)).toEqual({});
  fs.mkdirSync(path.join(tmp, "vendor"));
  fs.writeFileSync(path.join(tmp, "vendor", "azure-arm.js"), "");
  fs.writeFileSync(path.join(tmp, "vendor", "azure-identity.js"), "");
  expect(sdkBundles(cli)).toEqual({
    arm: path.join(tmp, "vendor", "azure-arm.js"),
    identity: path.join(tmp, "vendor", "azure-identity.js"),
  });
});

test("the files the CLI looks for are the ones scripts/sdkBundles.js writes", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const written = (require("../../../scripts/sdkBundles") as { SDK_BUNDLE_FILES: string[] })
    .SDK_BUNDLE_FILES;
  expect(Object.values(SDK_BUNDLE_FILES).sort()).toEqual([...written].sort());
});

/* eslint-disable @typescript-eslint/no-require-imports */
const script = require("../../../scripts/sdkBundles") as {
  packagesBundledTwice: (metafile: {
    inputs: Record<string, { format?: string; imports: { path: string }[] }>;
  }) => string[];
};
/* eslint-enable @typescript-eslint/no-require-imports */

describe("packagesBundledTwice", () => {
  type Input = { format?: "esm" | "cjs"; imports: { path: string }[] };
  /** A metafile: each file with its format and what it imports (`<stdin>`: the entry). */
  const meta = (
    files: Record<string, [format: "esm" | "cjs" | undefined, ...imports: string[]]>,
  ) => ({
    inputs: Object.fromEntries(
      Object.entries(files).map(([file, [format, ...imports]]): [string, Input] => [
        file,
        { format, imports: imports.map((p) => ({ path: p })) },
      ]),
    ),
  });
  const pipe = "node_modules/@azure/core-rest-pipeline";
  const client = "node_modules/@azure/core-client";
  test.each<[string, ReturnType<typeof meta>, string[]]>([
    [
      "one build of each package",
      meta({
        "<stdin>": ["esm", `${client}/dist/esm/index.js`],
        [`${client}/dist/esm/index.js`]: ["esm", `${pipe}/dist/esm/index.js`],
        [`${pipe}/dist/esm/index.js`]: ["esm"],
      }),
      [],
    ],
    [
      "an ES build that imports its own CommonJS state on purpose (core-client)",
      meta({
        "<stdin>": ["esm", `${client}/dist/esm/index.js`],
        [`${client}/dist/esm/index.js`]: ["esm", `${client}/dist/esm/state.js`],
        [`${client}/dist/esm/state.js`]: ["esm", `${client}/dist/commonjs/state-cjs.js`],
        [`${client}/dist/commonjs/state-cjs.js`]: ["cjs"],
      }),
      [],
    ],
    [
      "one CommonJS build entered at two of its files",
      meta({
        "<stdin>": ["cjs", `${pipe}/dist/index.js`, `${pipe}/dist/policies/index.js`],
        [`${pipe}/dist/index.js`]: ["cjs"],
        [`${pipe}/dist/policies/index.js`]: ["cjs"],
      }),
      [],
    ],
    [
      "the ES build from the entry, the CommonJS build from a package without exports",
      meta({
        "<stdin>": [
          "esm",
          "node_modules/@azure/arm-batch/dist/index.js",
          `${pipe}/dist/esm/index.js`,
        ],
        "node_modules/@azure/arm-batch/dist/index.js": ["cjs", `${pipe}/dist/commonjs/index.js`],
        [`${pipe}/dist/esm/index.js`]: ["esm"],
        [`${pipe}/dist/commonjs/index.js`]: ["cjs"],
      }),
      ["@azure/core-rest-pipeline: dist/esm/index.js (esm); dist/commonjs/index.js (cjs)"],
    ],
    [
      "a copy nested under another package is a package of its own",
      meta({
        "<stdin>": ["esm", "node_modules/a/index.mjs", "node_modules/b/node_modules/a/index.js"],
        "node_modules/a/index.mjs": ["esm"],
        "node_modules/b/node_modules/a/index.js": ["cjs"],
      }),
      [],
    ],
  ])("%s", (_name, metafile, expected) => {
    expect(script.packagesBundledTwice(metafile)).toEqual(expected);
  });
});
