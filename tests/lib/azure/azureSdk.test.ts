import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { armSdk, identitySdk, storageBlobSdk, useSdkBundles } from "../../../lib/azure/azureSdk";
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
    identity: file("i.js", 'exports.identity = { m: "identity" };'),
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

/* eslint-disable @typescript-eslint/no-require-imports */
const script = require("../../../scripts/sdkBundles") as {
  packagesBundledTwice: (metafile: {
    inputs: Record<string, { format?: string; imports: { path: string }[] }>;
  }) => string[];
  entry: (exports: Record<string, readonly string[]>, packages: Record<string, string>) => string;
  bundleOptions: (file: string, contents: string, root: string, outfile: string) => object;
  unsupportedImportMeta: (code: string) => string[];
};
const esbuild = require("esbuild") as typeof import("esbuild");
/* eslint-enable @typescript-eslint/no-require-imports */

test("a bundle's entry imports each namespace's names from its package, and exports them as one object", () => {
  expect(
    script.entry(
      { armBatch: ["BatchManagementClient"], rest: ["RestError", "createHttpHeaders"] },
      { armBatch: "@azure/arm-batch", rest: "@azure/core-rest-pipeline" },
    ),
  ).toBe(
    [
      'import { BatchManagementClient as armBatch$BatchManagementClient } from "@azure/arm-batch";',
      "export const armBatch = { BatchManagementClient: armBatch$BatchManagementClient };",
      'import { RestError as rest$RestError, createHttpHeaders as rest$createHttpHeaders } from "@azure/core-rest-pipeline";',
      "export const rest = { RestError: rest$RestError, createHttpHeaders: rest$createHttpHeaders };",
    ].join("\n"),
  );
});

describe("import.meta in a bundle", () => {
  /** A package `esm-only` whose ES build (named in "module") reads import.meta as `code` says. */
  function bundled(code: string): { file: string; text: string } {
    const pkg = path.join(tmp, "node_modules", "esm-only");
    fs.mkdirSync(pkg, { recursive: true });
    fs.writeFileSync(
      path.join(pkg, "package.json"),
      JSON.stringify({
        name: "esm-only",
        version: "1.0.0",
        module: "index.mjs",
        main: "index.cjs",
      }),
    );
    fs.writeFileSync(path.join(pkg, "index.mjs"), code);
    fs.writeFileSync(path.join(pkg, "index.cjs"), "exports.where = 'the CommonJS build';\n");
    const file = path.join(tmp, "vendor", "esm-only.js");
    const contents = script.entry({ esm: ["where"] }, { esm: "esm-only" });
    esbuild.buildSync(script.bundleOptions("esm-only.js", contents, tmp, file));
    return { file, text: fs.readFileSync(file, "utf8") };
  }

  test("is the bundle file's url, dirname and filename (createRequire works from it)", () => {
    const { file, text } = bundled(
      [
        'import { createRequire } from "node:module";',
        "const req = createRequire(import.meta.url);",
        "export const where = () => ({ url: import.meta.url, dirname: import.meta.dirname,",
        '  filename: import.meta.filename, os: req("node:os") === req("os") });',
      ].join("\n"),
    );
    expect(script.unsupportedImportMeta(text)).toEqual([]);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { esm } = require(file) as { esm: { where: () => unknown } };
    expect(esm.where()).toEqual({
      url: pathToFileURL(file).href,
      dirname: path.dirname(file),
      filename: file,
      os: true,
    });
  });

  test("anything else of it is named, for the build to refuse", () => {
    const { text } = bundled(
      "export const where = () => [import.meta.resolve('x'), Object.keys(import.meta)];\n",
    );
    expect(script.unsupportedImportMeta(text)).toEqual(["import.meta.resolve", "import.meta"]);
  });

  test.each<[string, string, string[]]>([
    [
      "the fields the banner sets",
      "f(__hpcBatchImportMeta.url, __hpcBatchImportMeta.filename);",
      [],
    ],
    ["another field", "__hpcBatchImportMeta.resolve('x');", ["import.meta.resolve"]],
    ["the object itself", "g(__hpcBatchImportMeta);", ["import.meta"]],
    [
      "esbuild's empty object",
      "var import_meta = {}; h(import_meta.url);",
      ["import.meta (left empty by esbuild)"],
    ],
    ["nothing", "module.exports = 1;", []],
  ])("%s", (_name, code, expected) => {
    const banner = (script.bundleOptions("x.js", "", tmp, "x.js") as { banner: { js: string } })
      .banner.js;
    expect(script.unsupportedImportMeta(`${banner}\n${code}`)).toEqual(expected);
  });
});

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
