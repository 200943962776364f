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
  packagesBundledTwice: (metafile: { inputs: Record<string, unknown> }) => string[];
};
/* eslint-enable @typescript-eslint/no-require-imports */

describe("packagesBundledTwice", () => {
  const meta = (...inputs: string[]) => ({
    inputs: Object.fromEntries(inputs.map((i) => [i, {}])),
  });
  test.each<[string, ReturnType<typeof meta>, string[]]>([
    [
      "one build of each package",
      meta("node_modules/@azure/core-client/dist/esm/index.js", "node_modules/debug/src/index.js"),
      [],
    ],
    [
      "an ES build that takes one CommonJS file on purpose (core-client's shared state)",
      meta(
        "node_modules/@azure/core-client/dist/esm/index.js",
        "node_modules/@azure/core-client/dist/esm/state.js",
        "node_modules/@azure/core-client/dist/commonjs/state-cjs.js",
      ),
      [],
    ],
    [
      "both builds' entry modules",
      meta(
        "node_modules/@azure/core-rest-pipeline/dist/esm/index.js",
        "node_modules/@azure/core-rest-pipeline/dist/commonjs/index.js",
      ),
      ["@azure/core-rest-pipeline: dist/esm, dist/commonjs"],
    ],
    [
      "a package without exports: its CommonJS main and its ES build",
      meta(
        "node_modules/@azure/arm-batch/dist/index.js",
        "node_modules/@azure/arm-batch/dist-esm/src/index.js",
      ),
      ["@azure/arm-batch: dist, dist-esm"],
    ],
    [
      "a copy nested under another package: judged on its own",
      meta(
        "node_modules/@azure/core-util/dist/esm/index.js",
        "node_modules/@azure/core-util/node_modules/@azure/abort-controller/dist/esm/index.js",
      ),
      [],
    ],
  ])("%s", (_name, metafile, expected) => {
    expect(script.packagesBundledTwice(metafile)).toEqual(expected);
  });
});
