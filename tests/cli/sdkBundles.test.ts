/**
 * The CLI as users run it (a process of its own, with the SDK bundles beside it as `npm run build`
 * lays them out) loads each Azure SDK from its bundle, never from the packages, and its calls keep
 * the REST contract the stand-ins check.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startArmBatchStandIn, type ArmBatchStandIn } from "../../standins/armBatchStandIn";
import { fakeEntraToken, startAzurite, type Azurite } from "../../standins/azurite";
import { SDK_BUNDLE_FILES, SDK_EXPORTS } from "../../lib/azure/azureSdk";
import { compileCli, startCli } from "../support/cliProcess";

const SUB = "00000000-0000-0000-0000-0000000000b1";
let azurite: Azurite;
let arm: ArmBatchStandIn | undefined;
let tmp: string;
let entry: string;
const token = fakeEntraToken();

beforeAll(async () => {
  entry = compileCli();
  azurite = await startAzurite();
}, 120_000);
afterAll(async () => {
  await azurite?.stop();
});
beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cli-sdk-bundles-"))));
afterEach(async () => {
  const violations = arm?.violations;
  await arm?.close();
  arm = undefined;
  fs.rmSync(tmp, { recursive: true, force: true });
  if (violations) expect(violations).toEqual([]);
});

/** Runs the CLI; answers its result and every module file it loaded. */
async function run(args: string[], env: NodeJS.ProcessEnv) {
  const loaded = path.join(tmp, `loaded-${args[0]}.json`);
  const hook = path.join(tmp, "hook.js");
  fs.writeFileSync(
    hook,
    'process.on("exit", () => require("node:fs").writeFileSync(process.env.LOADED_FILE, ' +
      "JSON.stringify({ files: Object.keys(require.cache), internal: process.moduleLoadList })));\n",
  );
  // Nothing of the machine's Azure sign-in leaks in (az, pwsh and azd are not on this PATH).
  const clean: NodeJS.ProcessEnv = {};
  for (const k of Object.keys(process.env)) if (/^(AZURE|ARM|MSI|IDENTITY)_/.test(k)) clean[k] = "";
  const nodeOnly = path.join(tmp, "path");
  fs.mkdirSync(nodeOnly, { recursive: true });
  if (!fs.existsSync(path.join(nodeOnly, "node"))) {
    fs.symlinkSync(process.execPath, path.join(nodeOnly, "node"));
  }
  const res = await startCli(entry, args, {
    cwd: tmp,
    env: {
      ...clean,
      PATH: nodeOnly,
      HOME: tmp,
      NODE_OPTIONS: `--require ${hook}`,
      LOADED_FILE: loaded,
      ...env,
    },
  }).done;
  const { files, internal } = JSON.parse(fs.readFileSync(loaded, "utf8")) as {
    files: string[];
    internal: string[];
  };
  const cli = path.dirname(entry);
  const vendor = path.join(cli, "vendor");
  return {
    ...res,
    /** The CLI's own modules it loaded, relative to the compiled CLI. */
    ours: files
      .filter((f) => f.startsWith(cli) && !f.startsWith(vendor))
      .map((f) => path.relative(cli, f)),
    bundles: files.filter((f) => f.startsWith(vendor)).map((f) => path.relative(vendor, f)),
    /** Whether Node.js's fetch (undici) was loaded: one SDK policy's check loads it (30 ms). */
    fetch: internal.some((m) => /undici/.test(m)),
    packages: [
      ...new Set(
        files
          .map((f) => /node_modules[/\\](@azure[/\\][^/\\]+)/.exec(f)?.[1])
          .filter((p): p is string => p !== undefined),
      ),
    ],
  };
}

/** `package` of the test's one-file app, version 1.0.0. */
function packageArgs(): string[] {
  const [app, out] = [path.join(tmp, "app"), path.join(tmp, "out")];
  return [
    "package",
    "--folder",
    app,
    "--out",
    out,
    ...["--application-id", "tool"],
    ...["--version", "1.0.0"],
  ];
}

/**
 * The ARM stand-in, and a one-file app packaged by the CLI (which loads no bundle): answers
 * the publish arguments for that zip.
 */
async function packaged(): Promise<string[]> {
  arm = await startArmBatchStandIn({
    azurite,
    subscriptionId: SUB,
    resourceGroup: "rg",
    account: "acct",
    token,
  });
  const app = path.join(tmp, "app");
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, "run.sh"), "#!/bin/sh\necho run\n", { mode: 0o755 });
  const out = path.join(tmp, "out");
  const pkg = await run(packageArgs(), {});
  expect({ code: pkg.code, stderr: pkg.stderr, bundles: pkg.bundles }).toEqual({
    code: 0,
    stderr: "",
    bundles: [],
  });
  return [
    "publish",
    "--zip",
    path.join(out, "tool-1.0.0.zip"),
    ...["--subscription", SUB, "--resource-group", "rg", "--account", "acct"],
    ...["--application", "tool", "--version", "1.0.0", "--arm-endpoint", arm.url],
  ];
}

test("publish --zip of a new version: the ARM and storage bundles, no @azure package, and what neither it nor an unchanged package loads", async () => {
  const args = await packaged();
  // What a command does not use it does not load (each module costs start-up time: README,
  // Performance): the first package wrote the zip, so it loaded the zip writer; this one did not.
  const again = await run(packageArgs(), {});
  expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 0, stderr: "" });
  expect(again.stdout).toContain("tool-1.0.0.zip");
  const pub = await run([...args, "--json"], { AZURE_ACCESS_TOKEN: token });
  expect(pub.code).toBe(0);
  expect(pub.stderr.split("\n").at(-2)).toBe("activate: version 1.0.0 is Active");
  expect(JSON.parse(pub.stdout)).toMatchObject({ outcome: "published", version: "1.0.0" });
  expect(pub.bundles.sort()).toEqual(["azure-arm.js", "azure-storage-blob.js"]);
  expect(pub.packages).toEqual([]);
  // Neither pipeline kept its form-data policy (lib/azure/pipeline.ts): no fetch loaded.
  expect(pub.fetch).toBe(false);
  const writer = "lib/package/zipWriter.js";
  expect({
    package: again.ours.includes(writer),
    publish: ["cli/commands/package.js", writer].filter((f) => pub.ours.includes(f)),
  }).toEqual({ package: false, publish: [] });
  // The hook sees the CLI's modules (else the check above could not fail).
  expect(again.ours).toContain("lib/package/zip.js");
  expect(pub.ours).toContain("lib/package/zipInspect.js");
}, 60_000);

test("no token: the credential chain comes from the identity bundle and fails with the fix", async () => {
  const args = await packaged();
  // The chain limited to the Azure CLI credential (identity's AZURE_TOKEN_CREDENTIALS), with no
  // az on PATH: nothing to sign in with on any machine, managed identity or not.
  const res = await run(args, { AZURE_TOKEN_CREDENTIALS: "AzureCliCredential" });
  expect({ code: res.code, stderr: res.stderr }).toEqual({
    code: 1,
    stderr: `hpc-batch publish: no Azure credential for ${arm!.url}/.default: run az login, or set AZURE_ACCESS_TOKEN to a token for it (a pipeline: AZURE_CLIENT_ID and AZURE_TENANT_ID with AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE)\n`,
  });
  expect(res.bundles).toContain("azure-identity.js");
  expect(res.packages).toEqual([]);
}, 60_000);

test("each bundle compiles from the V8 code cache the build wrote beside it", () => {
  const vendor = path.join(path.dirname(entry), "vendor");
  const loader = path.join(path.dirname(entry), "lib", "azure", "bundleLoader.js");
  const files = Object.values(SDK_BUNDLE_FILES).sort();
  expect(files).toEqual(["azure-arm.js", "azure-identity.js", "azure-storage-blob.js"]);
  const code =
    `const { compileBundle } = require(${JSON.stringify(loader)});\n` +
    `const files = ${JSON.stringify(files)};\n` +
    `console.log(JSON.stringify(files.map((f) => [f, compileBundle(require("node:path").join(${JSON.stringify(vendor)}, f)).cache])));`;
  // As the CLI starts: the options of the test runner's workers are not the CLI's.
  const res = spawnSync(process.execPath, ["-e", code], {
    encoding: "utf8",
    env: { ...process.env, NODE_OPTIONS: "" },
  });
  expect(res.stderr).toBe("");
  expect(JSON.parse(res.stdout)).toEqual(files.map((f) => [f, "used"]));
  // The build writes the files the CLI looks for, each with its cache, and the licenses.
  expect(fs.readdirSync(vendor).sort()).toEqual(
    [...files, ...files.map((f) => `${f}.v8cache`), "azure-sdk.LICENSES.txt"].sort(),
  );
});

test("each bundle exports the names the CLI uses, each a function; the ARM bundle one pipeline", () => {
  const vendor = path.join(path.dirname(entry), "vendor");
  // The client's error for a 404 (answered by an HTTP client of the test's, no network) is the
  // RestError class the bundle exports: with two pipeline copies in the bundle it is not.
  const code = [
    `const vendor = ${JSON.stringify(vendor)};`,
    `const files = ${JSON.stringify(SDK_BUNDLE_FILES)};`,
    "const names = (o) => Object.keys(o).sort().map((k) => [k, typeof o[k]]);",
    "const shape = (m) => Object.fromEntries(Object.entries(m).map(([ns, o]) => [ns, names(o)]));",
    "const all = {};",
    "for (const [key, file] of Object.entries(files)) all[key] = shape(require(`${vendor}/${file}`));",
    "const sdk = require(`${vendor}/${files.arm}`);",
    "const token = { getToken: async () => ({ token: 't', expiresOnTimestamp: Date.now() + 3.6e6 }) };",
    "const httpClient = { sendRequest: async (request) => ({ request, status: 404,",
    "  headers: sdk.rest.createHttpHeaders({ 'content-type': 'application/json' }),",
    "  bodyAsText: JSON.stringify({ error: { code: 'ApplicationNotFound', message: 'none' } }) }) };",
    "const client = new sdk.armBatch.BatchManagementClient(token, 's', { httpClient });",
    "client.applicationOperations.get('rg', 'acct', 'app').then(() => 'no error', (err) => err).then((err) =>",
    "  console.log(JSON.stringify({ all, error: [err instanceof sdk.rest.RestError, err.statusCode, err.code] })));",
  ].join("\n");
  const res = spawnSync(process.execPath, ["-e", code], { encoding: "utf8" });
  expect(res.stderr).toBe("");
  const fns = (names: readonly string[]) => [...names].sort().map((n) => [n, "function"]);
  expect(JSON.parse(res.stdout)).toEqual({
    all: {
      arm: { armBatch: fns(SDK_EXPORTS.arm.armBatch), rest: fns(SDK_EXPORTS.arm.rest) },
      storageBlob: { storageBlob: fns(SDK_EXPORTS.storageBlob.storageBlob) },
      identity: { identity: fns(SDK_EXPORTS.identity.identity) },
    },
    error: [true, 404, "ApplicationNotFound"],
  });
});
