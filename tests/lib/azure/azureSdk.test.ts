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
