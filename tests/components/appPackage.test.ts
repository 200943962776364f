import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as yazl from "yazl";
import { ApplicationPackage } from "../../components/appPackage";
import {
  UNKNOWN,
  applicationPackageProvider,
  checkPackageVersionInputs,
  createPackageVersion,
  diffPackageVersion,
  updatePackageVersion,
  type PackageVersionInputs,
  type PackageVersionOutputs,
} from "../../components/appPackageProvider";
import { InputErrors } from "../../lib/core/errors";
import { useSdkBundles } from "../../lib/azure/azureSdk";
import { simulate, unwrap } from "../helpers";
import { armIds, fakeAzure } from "../support/fakeAzure";
import { fakeEntraToken, startAzurite, type Azurite } from "../../standins/azurite";
import { startArmBatchStandIn, type ArmBatchStandIn } from "../../standins/armBatchStandIn";

const SUB = "00000000-0000-0000-0000-0000000000cc";
const RG = "rg-hpc";
const ACCOUNT = "bahpc03";
const APP_ID = armIds(SUB).application(RG, ACCOUNT, "ffmpeg");
const COMPONENT = "hpc-batch:batch:ApplicationPackage";
const DYNAMIC = "pulumi-nodejs:dynamic/batch:ApplicationPackageVersion";
const SHA = "5".repeat(64);

const azure = fakeAzure({ subscriptionId: SUB, applicationId: APP_ID });
const sim = simulate({
  project: "hpc-batch",
  stack: "test",
  id: ({ type, inputs }) => (type === DYNAMIC ? `${APP_ID}/versions/${inputs.version}` : "id"),
  // What the provider's create returns besides the inputs.
  state: (r) => (r.type === DYNAMIC ? azure.state(r)! : {}),
});

const args = {
  subscriptionId: SUB,
  resourceGroupName: RG,
  accountName: ACCOUNT,
  applicationId: "ffmpeg",
  version: "6.1.0",
  package: { path: "/build/ffmpeg-6.1.0.zip", sha256: SHA, bytes: 23_087_066, version: "6.1.0" },
};

describe("ApplicationPackage component (simulated engine)", () => {
  test("registers the component and one dynamic version resource under it, with defaults", async () => {
    const pkg = new ApplicationPackage("ffmpeg", args);
    await sim.settle();
    const comp = sim.find(COMPONENT, "ffmpeg");
    expect(comp.custom).toBe(false);
    expect(comp.parent).toBeUndefined();
    const v = sim.find(DYNAMIC, "ffmpeg-version");
    expect(v.custom).toBe(true);
    expect(v.parent).toBe(comp.urn);
    const { __provider, ...inputs } = v.inputs;
    expect(inputs).toEqual({
      subscriptionId: SUB,
      resourceGroupName: RG,
      accountName: ACCOUNT,
      applicationId: "ffmpeg",
      displayName: "ffmpeg",
      version: "6.1.0",
      packagePath: "/build/ffmpeg-6.1.0.zip",
      sha256: SHA,
      bytes: 23_087_066,
      packageVersion: "6.1.0",
      setDefault: true,
      promote: "on-publish",
      restartPending: false,
      retainVersions: 5,
      armEndpoint: "https://management.azure.com",
      allowUpdates: false,
    });
    // The serialized provider: its whole closure as module text, packages as require calls.
    expect(typeof __provider).toBe("string");
    expect(__provider).toContain("exports.handler");
    // The SDKs are loaded on first use: the serialized text requires them by package name.
    expect(__provider).toContain('require("@azure/arm-batch")');
    expect(__provider).toContain('require("@azure/storage-blob")');
    expect(v.options.deleteBeforeReplace).toBe(false);
    expect(v.options.dependsOn).toEqual([]);
    expect(comp.outputs).toEqual({
      applicationId: "ffmpeg",
      version: "6.1.0",
      state: "Active",
      sha256: SHA,
      applicationResourceId: APP_ID,
      packageReference: { id: APP_ID, version: "6.1.0" },
      applicationReference: { id: APP_ID },
    });
    expect(await unwrap(pkg.packageReference)).toEqual({ id: APP_ID, version: "6.1.0" });
    expect(await unwrap(pkg.applicationReference)).toEqual({ id: APP_ID });
    expect(await unwrap(pkg.state)).toBe("Active");
  }, 60_000);

  test("explicit args and Output inputs pass through", async () => {
    new ApplicationPackage(
      "blender",
      {
        ...args,
        accountName: pulumi.output(ACCOUNT),
        applicationId: "blender",
        version: pulumi.output("4.2.0"),
        displayName: "Blender",
        package: pulumi.output({ path: "/b.zip", sha256: SHA, bytes: 10 }),
        setDefault: false,
        promote: "after-canary",
        restartPending: true,
        batchAccountEndpoint: pulumi.output("bahpc03.westeurope.batch.azure.com"),
        retainVersions: 12,
        armEndpoint: "https://management.usgovcloudapi.net",
      },
      { protect: true },
    );
    await sim.settle();
    const comp = sim.find(COMPONENT, "blender");
    expect(comp.options.protect).toBe(true);
    const inputs = { ...sim.find(DYNAMIC, "blender-version").inputs };
    delete inputs.__provider;
    expect(inputs).toEqual({
      subscriptionId: SUB,
      resourceGroupName: RG,
      accountName: ACCOUNT,
      applicationId: "blender",
      displayName: "Blender",
      version: "4.2.0",
      packagePath: "/b.zip",
      sha256: SHA,
      bytes: 10,
      setDefault: false,
      promote: "after-canary",
      restartPending: true,
      batchAccountEndpoint: "bahpc03.westeurope.batch.azure.com",
      retainVersions: 12,
      armEndpoint: "https://management.usgovcloudapi.net",
      allowUpdates: false,
    });
  }, 60_000);

  test.each<[string, Record<string, unknown>, string]>([
    [
      "unknown promote mode",
      { promote: "later" },
      `ApplicationPackage(bad).promote "later" is invalid: must be "on-publish" (the version becomes the default once active) or "after-canary" (after the first release, \`hpc-batch verify --promote\` makes it the default once a smoke task that references it has passed on the pool)`,
    ],
    [
      "bad application id",
      { applicationId: "ff mpeg" },
      `ApplicationPackage(bad).applicationId "ff mpeg" is invalid: must be 1 to 64 letters, digits, '-' or '_'`,
    ],
    [
      "semver build metadata",
      { version: "6.1.0+b5" },
      `ApplicationPackage(bad).version "6.1.0+b5" is invalid: must be 1 to 64 letters, digits, '-', '_' or '.', not starting with '.' ('+' is not allowed, so semver build metadata cannot be used as is)`,
    ],
    [
      "retention above 40",
      { retainVersions: 41 },
      "ApplicationPackage(bad).retainVersions 41 is invalid: must be a whole number from 1 to 40 (Batch allows 40 versions per application)",
    ],
    [
      "http endpoint",
      { armEndpoint: "http://localhost" },
      `ApplicationPackage(bad).armEndpoint "http://localhost" is invalid: must be an https:// URL of a Resource Manager endpoint, e.g. https://management.azure.com`,
    ],
    [
      "sha256 not hex",
      { package: { path: "/a.zip", sha256: "XYZ", bytes: 1 } },
      `ApplicationPackage(bad).package.sha256 "XYZ" is invalid: must be 64 lowercase hex characters`,
    ],
  ])("%s: throws before registering anything", (_t, over, message) => {
    const before = sim.registrations.length;
    expect(() => new ApplicationPackage("bad", { ...args, ...over } as never)).toThrow(message);
    expect(sim.registrations.length).toBe(before);
  });

  test("several bad args: one error listing each", () => {
    expect(
      () => new ApplicationPackage("bad2", { ...args, applicationId: "a b", retainVersions: 0 }),
    ).toThrow(InputErrors);
  });
});

describe("provider logic (plain functions)", () => {
  const inputs: PackageVersionInputs = {
    subscriptionId: SUB,
    resourceGroupName: RG,
    accountName: ACCOUNT,
    applicationId: "ffmpeg",
    displayName: "ffmpeg",
    version: "1.0.0",
    packagePath: "/tmp/x.zip",
    sha256: SHA,
    bytes: 100,
    setDefault: true,
    promote: "on-publish",
    restartPending: false,
    retainVersions: 5,
    armEndpoint: "https://management.azure.com",
    allowUpdates: false,
  };
  const { subscriptionId, resourceGroupName, accountName, applicationId, displayName } = inputs;
  const olds: PackageVersionOutputs = {
    subscriptionId,
    resourceGroupName,
    accountName,
    applicationId,
    displayName,
    version: inputs.version,
    sha256: inputs.sha256,
    bytes: inputs.bytes,
    setDefault: inputs.setDefault,
    promote: inputs.promote,
    restartPending: inputs.restartPending,
    retainVersions: inputs.retainVersions,
    armEndpoint: inputs.armEndpoint,
    allowUpdates: false,
    state: "Active",
    applicationResourceId: APP_ID,
    packageReference: { id: APP_ID, version: "1.0.0" },
  };
  const STABLES = ["applicationResourceId", "packageReference", "state"];

  test("the unknown marker is Pulumi's", () => {
    expect(UNKNOWN).toBe(pulumi.runtime.unknownValue);
  });

  test.each<[string, Partial<PackageVersionInputs>, unknown]>([
    [
      "unchanged: nothing to do",
      {},
      { changes: false, replaces: [], deleteBeforeReplace: false, stables: STABLES },
    ],
    [
      "setDefault changed: an update in place",
      { setDefault: false },
      { changes: true, replaces: [], deleteBeforeReplace: false, stables: STABLES },
    ],
    [
      "another version: a new version beside the old",
      { version: "1.0.1", sha256: "6".repeat(64) },
      { changes: true, replaces: ["version"], deleteBeforeReplace: false, stables: [] },
    ],
    [
      "a case-only change is the same Batch version",
      { version: "1.0.0".toUpperCase() },
      { changes: false, replaces: [], deleteBeforeReplace: false, stables: STABLES },
    ],
    [
      "another account",
      { accountName: "other" },
      { changes: true, replaces: ["accountName"], deleteBeforeReplace: false, stables: [] },
    ],
    [
      "the zip's path alone does not matter",
      { packagePath: "/elsewhere/x.zip" },
      { changes: false, replaces: [], deleteBeforeReplace: false, stables: STABLES },
    ],
    [
      "sha256 unknown in preview: maybe a change",
      { sha256: UNKNOWN },
      { changes: true, replaces: [], deleteBeforeReplace: false, stables: STABLES },
    ],
  ])("diff: %s", (_t, over, expected) => {
    expect(diffPackageVersion(olds, { ...inputs, ...over })).toEqual(expected);
  });

  test("diff: state from before `promote` existed means on-publish: no change; after-canary is an update", () => {
    const legacy: Partial<PackageVersionOutputs> = { ...olds };
    delete legacy.promote;
    delete legacy.restartPending;
    expect(diffPackageVersion(legacy as PackageVersionOutputs, inputs)).toEqual({
      changes: false,
      replaces: [],
      deleteBeforeReplace: false,
      stables: STABLES,
    });
    expect(
      diffPackageVersion(legacy as PackageVersionOutputs, { ...inputs, promote: "after-canary" }),
    ).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false, stables: STABLES });
  });

  test("diff: the same version with another zip fails with the bump message", () => {
    expect(() => diffPackageVersion(olds, { ...inputs, sha256: "6".repeat(64) })).toThrow(
      "application ffmpeg version 1.0.0 is already active with different content " +
        "(active sha256 555555555555, this zip 666666666666): published versions are immutable; " +
        "bump the version (for example to 1.0.1) and publish again",
    );
  });

  test.each<[string, Partial<PackageVersionInputs>, { property: string; reason: string }[]]>([
    ["valid", {}, []],
    [
      "unknown values are not judged",
      { version: UNKNOWN, sha256: UNKNOWN, bytes: UNKNOWN as never },
      [],
    ],
    [
      "leading dot in version (the REST pattern forbids it)",
      { version: ".1" },
      [
        {
          property: "version",
          reason:
            "must be 1 to 64 letters, digits, '-', '_' or '.', not starting with '.' (no '+')",
        },
      ],
    ],
    [
      "a zip built for another version",
      { packageVersion: "0.9.0" },
      [
        {
          property: "version",
          reason:
            "the package was built for version 0.9.0, not 1.0.0: build it with the version you publish",
        },
      ],
    ],
    [
      "bad sha and size",
      { sha256: "abc", bytes: 0 },
      [
        { property: "sha256", reason: "must be 64 lowercase hex characters (PackageInfo.sha256)" },
        { property: "bytes", reason: "must be the zip's size in bytes (PackageInfo.bytes)" },
      ],
    ],
    [
      "retention out of range",
      { retainVersions: 41 },
      [{ property: "retainVersions", reason: "must be a whole number from 1 to 40" }],
    ],
  ])("check: %s", (_t, over, failures) => {
    expect(checkPackageVersionInputs({ ...inputs, ...over })).toEqual(failures);
  });
});

// The provider against the stand-ins: directly, and after Pulumi's function serialization.
describe("provider against Azurite and the ARM stand-in", () => {
  const token = fakeEntraToken();
  let azurite: Azurite;
  let arm: ArmBatchStandIn;
  let dir: string;
  const savedToken = process.env.AZURE_ACCESS_TOKEN;

  async function zip(name: string, text: string) {
    const file = path.join(dir, `${name}.zip`);
    const z = new yazl.ZipFile();
    z.addBuffer(Buffer.from(text), "bin/run.sh", { mtime: new Date(1980, 0, 1), mode: 0o100755 });
    z.end();
    await new Promise<void>((resolve, reject) =>
      z.outputStream.pipe(fs.createWriteStream(file)).on("close", resolve).on("error", reject),
    );
    const b = fs.readFileSync(file);
    return { path: file, sha256: createHash("sha256").update(b).digest("hex"), bytes: b.length };
  }
  const inputsFor = (
    version: string,
    p: { path: string; sha256: string; bytes: number },
  ): PackageVersionInputs => ({
    subscriptionId: SUB,
    resourceGroupName: RG,
    accountName: ACCOUNT,
    applicationId: "ffmpeg",
    displayName: "FFmpeg",
    version,
    packagePath: p.path,
    sha256: p.sha256,
    bytes: p.bytes,
    setDefault: true,
    promote: "on-publish",
    restartPending: false,
    retainVersions: 5,
    armEndpoint: arm.url,
    allowUpdates: false,
  });

  beforeAll(async () => {
    azurite = await startAzurite();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-batch-provider-"));
  });
  beforeEach(async () => {
    process.env.AZURE_ACCESS_TOKEN = token;
    arm = await startArmBatchStandIn({
      azurite,
      subscriptionId: SUB,
      resourceGroup: RG,
      account: ACCOUNT,
      token,
    });
  });
  afterEach(async () => {
    // Clean up before asserting, so a violation cannot leave the stand-in or env behind.
    const violations = arm.violations;
    await arm.close();
    if (savedToken === undefined) delete process.env.AZURE_ACCESS_TOKEN;
    else process.env.AZURE_ACCESS_TOKEN = savedToken;
    expect(violations).toEqual([]);
  });
  afterAll(async () => {
    // Undefined when startup failed: let that error be the one reported.
    await azurite?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("create publishes and activates; state keeps the sha256 and size, not the zip", async () => {
    const p = await zip("create", "echo 1\n");
    const res = await createPackageVersion(inputsFor("1.0.0", p));
    expect(res).toEqual({
      id: `${APP_ID}/versions/1.0.0`,
      outs: {
        subscriptionId: SUB,
        resourceGroupName: RG,
        accountName: ACCOUNT,
        applicationId: "ffmpeg",
        displayName: "FFmpeg",
        version: "1.0.0",
        sha256: p.sha256,
        bytes: p.bytes,
        setDefault: true,
        promote: "on-publish",
        restartPending: false,
        retainVersions: 5,
        armEndpoint: arm.url,
        allowUpdates: false,
        state: "Active",
        applicationResourceId: APP_ID,
        packageReference: { id: APP_ID, version: "1.0.0" },
      },
    });
    expect(arm.applications.get("ffmpeg")!.versions.get("1.0.0")!.state).toBe("Active");
    expect(arm.applications.get("ffmpeg")!.defaultVersion).toBe("1.0.0");
  });

  test("update (default flag only) neither uploads nor activates", async () => {
    const p = await zip("update", "echo 2\n");
    const created = await createPackageVersion({ ...inputsFor("1.0.0", p), setDefault: false });
    arm.requests.length = 0;
    const res = await updatePackageVersion(created.outs, inputsFor("1.0.0", p));
    expect(res.outs.setDefault).toBe(true);
    const calls = arm.requests.map((r) => `${r.method} ${r.path.split("/").slice(-2).join("/")}`);
    // The application and version reads go out together, as do retention's two lists: their
    // order varies.
    expect([
      ...calls.slice(0, 2).sort(),
      calls[2],
      ...calls.slice(3, 5).sort(),
      ...calls.slice(5),
    ]).toEqual([
      "GET applications/ffmpeg",
      "GET versions/1.0.0",
      "PATCH applications/ffmpeg",
      "GET bahpc03/pools",
      "GET ffmpeg/versions",
    ]);
  });

  test("a new version is created beside the old one, and delete leaves the old one", async () => {
    const one = await zip("v1", "echo v1\n");
    const two = await zip("v2", "echo v2\n");
    const first = await createPackageVersion(inputsFor("1.0.0", one));
    await createPackageVersion(inputsFor("1.0.1", two));
    arm.requests.length = 0;
    await applicationPackageProvider.delete!(first.id, first.outs);
    expect(arm.requests).toEqual([]);
    expect([...arm.applications.get("ffmpeg")!.versions.keys()]).toEqual(["1.0.0", "1.0.1"]);
    expect(arm.applications.get("ffmpeg")!.defaultVersion).toBe("1.0.1");
  });

  test("survives Pulumi's function serialization: the serialized text runs in a fresh process", async () => {
    // As in a process that chose SDK bundles (the CLI does): no bundle path may travel into the
    // serialized text, which runs elsewhere (lib/azure/azureSdk.ts keeps the choice global).
    useSdkBundles({
      arm: "/nowhere/azure-arm.js",
      storageBlob: "/nowhere/azure-storage-blob.js",
      identity: "/nowhere/azure-identity.js",
    });
    let sf;
    try {
      sf = await pulumi.runtime.serializeFunction(() => applicationPackageProvider, {
        allowSecrets: true,
      });
    } finally {
      useSdkBundles({});
    }
    expect(sf.text).not.toContain("/nowhere/");
    const file = path.join(dir, "provider.js");
    fs.writeFileSync(file, sf.text);
    const p = await zip("serialized", "echo serialized\n");
    const other = await zip("serialized-other", "echo other\n");
    // The same steps as Pulumi's dynamic provider host (cmd/dynamic-provider): require-from-string,
    // then handler(), then the CRUD calls; nothing from this test's module scope is available.
    const script = `
      const fs = require("node:fs");
      const requireFromString = require("require-from-string");
      const provider = requireFromString(fs.readFileSync(process.env.PROVIDER_FILE, "utf8")).handler();
      const inputs = JSON.parse(process.env.INPUTS);
      (async () => {
        const checked = await provider.check({}, inputs);
        const created = await provider.create(inputs);
        const unchanged = await provider.diff(created.id, created.outs, inputs);
        let refused;
        try {
          await provider.diff(created.id, created.outs, JSON.parse(process.env.CHANGED));
        } catch (err) {
          refused = err.message;
        }
        // Without state (a lost stack): create itself finds the active version and refuses.
        let createRefused;
        try {
          await provider.create(JSON.parse(process.env.CHANGED));
        } catch (err) {
          createRefused = { name: err.name, message: err.message };
        }
        process.stdout.write(
          JSON.stringify({ failures: checked.failures, created, unchanged, refused, createRefused }),
        );
      })().catch((err) => {
        process.stderr.write(String(err && err.stack || err));
        process.exit(1);
      });`;
    const inputs = inputsFor("2.0.0", p);
    const changed = {
      ...inputs,
      packagePath: other.path,
      sha256: other.sha256,
      bytes: other.bytes,
    };
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ["-e", script],
        {
          cwd: path.join(__dirname, "..", ".."),
          env: {
            ...process.env,
            PROVIDER_FILE: file,
            INPUTS: JSON.stringify(inputs),
            CHANGED: JSON.stringify(changed),
          },
        },
        (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    const result = JSON.parse(out);
    expect(result.failures).toEqual([]);
    expect(result.created.id).toBe(`${APP_ID}/versions/2.0.0`);
    expect(result.created.outs).toMatchObject({
      state: "Active",
      sha256: p.sha256,
      packageReference: { id: APP_ID, version: "2.0.0" },
    });
    expect(result.unchanged).toEqual({
      changes: false,
      replaces: [],
      deleteBeforeReplace: false,
      stables: ["applicationResourceId", "packageReference", "state"],
    });
    const bump =
      `application ffmpeg version 2.0.0 is already active with different content ` +
      `(active sha256 ${p.sha256.slice(0, 12)}, this zip ${other.sha256.slice(0, 12)}): ` +
      "published versions are immutable; bump the version (for example to 2.0.1) and publish again";
    expect(result.refused).toBe(bump);
    // Errors raised deep in the serialized library keep their message and name.
    expect(result.createRefused).toEqual({ name: "PublishRefusedError", message: bump });
    // The real work happened, through the stand-ins, from the serialized code.
    const v = arm.applications.get("ffmpeg")!.versions.get("2.0.0")!;
    expect(v.state).toBe("Active");
    const blob = azurite.service.getContainerClient(v.container).getBlobClient(v.blob);
    expect((await blob.downloadToBuffer()).equals(fs.readFileSync(p.path))).toBe(true);
    expect(arm.counts).toEqual({
      "GET application": 2,
      "PUT application": 1,
      "GET version": 2,
      "PUT version": 1,
      "POST activate": 1,
      "PATCH application": 1,
      "LIST versions": 1,
      "LIST pools": 1,
    });
  }, 120_000);
});
