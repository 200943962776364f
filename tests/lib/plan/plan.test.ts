import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  readStackConfig,
  runPlan,
  SECURE_CONFIG_STAND_IN,
  versionSource,
} from "../../../lib/plan/plan";
import {
  keySettings,
  planResource,
  poolUpdates,
  PlanDocument,
  redact,
  SECRET,
  STAND_IN_NOTE,
} from "../../../lib/plan/document";
import { renderMermaid } from "../../../lib/plan/render/diagram";
import {
  PACKAGE_VERSION_TYPE,
  PlanState,
  STAND_IN_SUBSCRIPTION,
} from "../../../lib/plan/planState";
import type { Registration } from "../../../lib/plan/simulate";
import { buildPackage } from "../../../lib/package/zip";
import { UBUNTU_2404_DEPLOYMENT } from "../../support/expectedPool";
import { git } from "../../support/git";

const fixture = path.resolve(__dirname, "../../fixtures/plan");
let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "plan-test-"))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/**
 * The fixture project, less its out/, as a git repository with `program.js`, a stack `name` that
 * sets only the location, and one commit.
 */
function fixtureRepo(name: string, program: string): string {
  const dir = path.join(tmp, name);
  fs.cpSync(fixture, dir, { recursive: true, filter: (src) => !src.endsWith(`${path.sep}out`) });
  fs.writeFileSync(
    path.join(dir, `Pulumi.${name}.yaml`),
    "config:\n  azure-native:location: westeurope\n",
  );
  fs.writeFileSync(path.join(dir, "program.js"), program);
  git(dir, "init", "-q");
  git(dir, "add", ".");
  git(dir, "commit", "-qm", "feat: app");
  return dir;
}

function project(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(tmp, "project-"));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

describe("readStackConfig", () => {
  test("applies Pulumi.yaml defaults, then the stack's values; secure values are stood in", () => {
    const dir = project({
      "Pulumi.yaml": [
        "name: proj",
        "config:",
        "  size:",
        "    type: integer",
        "    default: 3",
        "  name:",
        "    type: string",
        "    description: declared without a default",
        "  proj:color:",
        "    default: blue",
        "  other:plain: 7",
      ].join("\n"),
      "Pulumi.s1.yaml": [
        "config:",
        "  proj:size: 5",
        "  proj:obj:",
        "    a: 1",
        "  aws:token:",
        "    secure: v1:abc",
      ].join("\n"),
    });
    expect(readStackConfig(dir, "s1")).toEqual({
      project: "proj",
      config: {
        "proj:size": 5,
        "proj:color": "blue",
        "other:plain": 7,
        "proj:obj": { a: 1 },
        "aws:token": SECURE_CONFIG_STAND_IN,
      },
      secretKeys: ["aws:token"],
    });
  });

  test.each([
    ["nope", '--stack "nope" is invalid: must name a stack with a Pulumi.nope.yaml in'],
    ["../x", '--stack "../x" is invalid: must name a stack with a Pulumi.../x.yaml in'],
  ])("an unknown stack %s is bad input", (stack, message) => {
    const dir = project({ "Pulumi.yaml": "name: proj\n" });
    expect(() => readStackConfig(dir, stack)).toThrow(message);
  });

  test("broken YAML is bad input naming the file", () => {
    const dir = project({ "Pulumi.yaml": "name: proj\n", "Pulumi.s.yaml": "config: [\n" });
    expect(() => readStackConfig(dir, "s")).toThrow(
      /^Pulumi\.s\.yaml "\(file\)" is invalid: must be valid YAML: /,
    );
  });
});

describe("PlanState", () => {
  test("ARM-shaped ids, endpoints and identities, each recorded as a stand-in", () => {
    const s = new PlanState("westeurope");
    const sub = `/subscriptions/${STAND_IN_SUBSCRIPTION}`;
    const rg = {
      type: "azure-native:resources:ResourceGroup",
      name: "rg",
      inputs: { resourceGroupName: "rg-x" },
    };
    expect(s.id(rg)).toBe(`${sub}/resourceGroups/rg-x`);
    const st = {
      type: "azure-native:storage:StorageAccount",
      name: "st",
      inputs: { resourceGroupName: "rg-x", accountName: "stx" },
    };
    expect(s.id(st)).toBe(
      `${sub}/resourceGroups/rg-x/providers/Microsoft.Storage/storageAccounts/stx`,
    );
    expect(s.state(st)).toEqual({
      name: "stx",
      primaryEndpoints: {
        blob: "https://stx.blob.core.windows.net/",
        dfs: "https://stx.dfs.core.windows.net/",
        file: "https://stx.file.core.windows.net/",
        queue: "https://stx.queue.core.windows.net/",
        table: "https://stx.table.core.windows.net/",
        web: "https://stx.z6.web.core.windows.net/",
      },
    });
    const ba = {
      type: "azure-native:batch:BatchAccount",
      name: "ba",
      inputs: { resourceGroupName: "rg-x", accountName: "bax" },
    };
    expect(s.state(ba)).toEqual({ name: "bax", accountEndpoint: "bax.westeurope.batch.azure.com" });
    const pool = {
      type: "azure-native:batch:Pool",
      name: "pool",
      inputs: { resourceGroupName: "rg-x", accountName: "bax", poolName: "p1" },
    };
    expect(s.id(pool)).toBe(
      `${sub}/resourceGroups/rg-x/providers/Microsoft.Batch/batchAccounts/bax/pools/p1`,
    );
    const id = {
      type: "azure-native:managedidentity:UserAssignedIdentity",
      name: "id",
      inputs: { resourceGroupName: "rg-x", resourceName: "id-x" },
    };
    const idState = s.state(id);
    expect(idState.principalId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(idState.principalId).not.toBe(idState.clientId);
    expect(new PlanState("westeurope").state(id)).toEqual(idState); // deterministic
    const ra = {
      type: "azure-native:authorization:RoleAssignment",
      name: "ra",
      inputs: { scope: `${sub}/resourceGroups/rg-x`, roleAssignmentName: "1234" },
    };
    expect(s.id(ra)).toBe(
      `${sub}/resourceGroups/rg-x/providers/Microsoft.Authorization/roleAssignments/1234`,
    );
    expect(s.id({ type: "random:index:RandomId", name: "r", inputs: {} })).toBe("r-id");
    expect(s.of("azure-native:storage:StorageAccount", "st")).toEqual(["id", "primaryEndpoints"]);
    expect(s.of("azure-native:managedidentity:UserAssignedIdentity", "id")).toEqual([
      "principalId",
      "clientId",
      "tenantId",
    ]);
  });

  test("an auto-named resource gets its logical name plus a stable suffix, marked as a stand-in", () => {
    const s = new PlanState("westeurope");
    const rg = { type: "azure-native:resources:ResourceGroup", name: "rg", inputs: {} };
    expect(s.state(rg)).toEqual({ name: expect.stringMatching(/^rg[0-9a-f]{8}$/) });
    expect(s.state(rg)).toEqual(new PlanState("x").state(rg));
    expect(s.of(rg.type, "rg")).toEqual(["name"]);
  });

  test("the application package version resource answers Active with its package reference", () => {
    const s = new PlanState("westeurope");
    const reg = {
      type: PACKAGE_VERSION_TYPE,
      name: "app-version",
      inputs: {
        subscriptionId: STAND_IN_SUBSCRIPTION,
        resourceGroupName: "rg-x",
        accountName: "bax",
        applicationId: "ffmpeg",
        version: "1.2.0",
      },
    };
    const app = `/subscriptions/${STAND_IN_SUBSCRIPTION}/resourceGroups/rg-x/providers/Microsoft.Batch/batchAccounts/bax/applications/ffmpeg`;
    expect(s.id(reg)).toBe(`${app}/versions/1.2.0`);
    expect(s.state(reg)).toEqual({
      state: "Active",
      applicationResourceId: app,
      packageReference: { id: app, version: "1.2.0" },
    });
    expect(s.of(PACKAGE_VERSION_TYPE, "app-version")).toEqual([
      "id",
      "state",
      "applicationResourceId",
      "packageReference",
    ]);
  });

  test("answers getClientConfig; any other invoke is recorded as an error naming it", () => {
    const s = new PlanState("westeurope");
    const cfg = s.call({ token: "azure-native:authorization:getClientConfig", inputs: {} });
    expect(cfg.subscriptionId).toBe(STAND_IN_SUBSCRIPTION);
    expect(Object.keys(cfg).sort()).toEqual(["clientId", "objectId", "subscriptionId", "tenantId"]);
    expect(s.errors).toEqual([]);
    expect(s.call({ token: "azure-native:storage:listStorageAccountKeys", inputs: {} })).toEqual(
      {},
    );
    expect(s.errors.map((e) => e.message)).toEqual([
      "the plan has no stand-in for the invoke azure-native:storage:listStorageAccountKeys; add one to lib/plan/planState.ts",
    ]);
  });
});

describe("rendering", () => {
  const reg = (
    type: string,
    inputs: Record<string, unknown>,
    secretInputs: string[] = [],
  ): Registration => ({
    type,
    name: "x",
    urn: `urn:pulumi:s::p::${type}::x`,
    custom: true,
    inputs,
    secretInputs,
    options: {
      dependsOn: [],
      replaceOnChanges: [],
      ignoreChanges: [],
      additionalSecretOutputs: [],
      deleteBeforeReplace: false,
    },
  });

  test.each([
    [
      "a fixed-scale pool with a package",
      {
        poolName: "p1",
        vmSize: "Standard_D2s_v5",
        deploymentConfiguration: UBUNTU_2404_DEPLOYMENT,
        scaleSettings: { fixedScale: { targetDedicatedNodes: 2 } },
        taskSlotsPerNode: 1,
        applicationPackages: [{ id: "/subscriptions/0/.../applications/ffmpeg", version: "1.2.0" }],
      },
      {
        name: "p1",
        vmSize: "Standard_D2s_v5",
        image: "canonical/ubuntu-24_04-lts/server/latest",
        nodeAgentSkuId: "batch.node.ubuntu 24.04",
        scale: "fixed: 2 dedicated, 0 Spot",
        cores: "up to 4 dedicated (default quota 20 per account), up to 0 Spot; 2 per node",
        taskSlotsPerNode: "1",
        applicationPackages: "ffmpeg 1.2.0",
      },
    ],
    [
      "an autoscale pool on a custom image",
      {
        poolName: "p2",
        vmSize: "Standard_F4s_v2",
        deploymentConfiguration: {
          virtualMachineConfiguration: { imageReference: { id: "/subscriptions/0/images/x" } },
        },
        scaleSettings: { autoScale: { formula: "$TargetDedicatedNodes = 1;" } },
      },
      {
        name: "p2",
        vmSize: "Standard_F4s_v2",
        image: "/subscriptions/0/images/x",
        scale: "autoscale every PT15M: 1 dedicated, Spot set by the formula",
        cores: "up to 4 dedicated (default quota 20 per account), up to ? Spot; 4 per node",
        formula: "$TargetDedicatedNodes = 1;",
      },
    ],
  ])("key settings of %s", (_what, inputs, settings) => {
    expect(keySettings(reg("azure-native:batch:Pool", inputs))).toEqual(settings);
  });

  test("a pool's changes: in place (PATCH) from ignoreChanges, replacing from replaceOnChanges, sorted", () => {
    const pool = reg("azure-native:batch:Pool", { poolName: "p1" });
    pool.options.ignoreChanges = ["scaleSettings", "startTask", "applicationPackages", "tags"];
    pool.options.replaceOnChanges = ["vmSize", "deploymentConfiguration", "identity", "custom"];
    const text =
      "in place (PATCH): application packages, scale, start task, tags; " +
      "replaces the pool (deletes its nodes): custom, image and node agent, node identity, pool id, VM size";
    expect(poolUpdates(pool)).toBe(text);
    expect(planResource(pool, []).updates).toBe(text);
    // Other resources carry no such field.
    expect(Object.keys(planResource(reg("azure-native:batch:BatchAccount", {}), []))).not.toContain(
      "updates",
    );
    pool.options.ignoreChanges = [];
    pool.options.replaceOnChanges = [];
    expect(poolUpdates(pool)).toBe(
      "in place (PATCH): none; replaces the pool (deletes its nodes): pool id",
    );
  });

  test("key settings that are secret render as [secret]; other types show plain, non-secret inputs", () => {
    const account = { accountName: "bax", poolAllocationMode: "BatchService" };
    expect(keySettings(reg("azure-native:batch:BatchAccount", account, ["accountName"]))).toEqual({
      name: SECRET,
      poolAllocationMode: "BatchService",
    });
    expect(
      keySettings(
        reg("fixture:index:Thing", { a: "x", user: "me", password: "p", code: 7, obj: {} }, [
          "user",
        ]),
      ),
    ).toEqual({ a: "x", code: "7" });
  });

  test.each([
    ["https://a.blob.core.windows.net/c/b.zip?sv=2022&sp=r&sig=abc%3D", undefined, SECRET],
    [
      "https://a.blob.core.windows.net/c/b.zip",
      undefined,
      "https://a.blob.core.windows.net/c/b.zip",
    ],
    ["k", "primaryKey", SECRET],
    ["", "password", ""],
    [{ a: { clientSecret: "x", keep: 1 } }, undefined, { a: { clientSecret: SECRET, keep: 1 } }],
    [["https://x/y?sig=1"], undefined, [SECRET]],
  ])("redact(%j, %s)", (value, name, expected) => {
    expect(redact(value, name)).toEqual(expected);
  });

  test("the Mermaid diagram draws components as subgraphs and data flow as edges", () => {
    const doc = {
      resources: [
        { urn: "c", type: "t:C", name: "comp", component: true, dependsOn: [] },
        { urn: "a", type: "t:A", name: 'a"1', component: false, parent: "c", dependsOn: [] },
        { urn: "b", type: "t:B", name: "b", component: false, dependsOn: ["a", "c"] },
      ],
    } as unknown as PlanDocument;
    expect(renderMermaid(doc)).toBe(
      [
        "flowchart LR",
        '  subgraph r0["comp<br/>C"]',
        '    r1["a#quot;1<br/>A"]',
        "  end",
        '  r2["b<br/>B"]',
        "  r1 --> r2",
      ].join("\n"),
    );
  });

  test("version sources", () => {
    const base = { version: "1.0.0", tag: null, commits: 0, dirty: false };
    expect(versionSource({ ...base, source: "config" })).toBe("stack config");
    expect(versionSource({ ...base, source: "git", tag: "app-v1.0.0", commits: 2 })).toBe(
      "computed from git: 2 commit(s) since app-v1.0.0",
    );
    expect(versionSource({ ...base, source: "git", dirty: true })).toBe(
      "computed from git: 0 commit(s) and no release tag yet, uncommitted changes not counted",
    );
  });
});

describe("runPlan on the fixture program", () => {
  let doc: PlanDocument;
  let json: string;
  let markdown: string;
  const out = () => path.join(tmp, "out");

  beforeAll(async () => {
    const r = await runPlan({
      root: fixture,
      stack: "secrets",
      outDir: out(),
      program: path.join(fixture, "program.ts"),
      policies: (resources, opts) => ({
        violations: [
          {
            policy: "fixture-policy",
            level: "advisory" as const,
            urn: resources[1].urn,
            message: `checked ${resources.length} resources of ${opts.stack}`,
          },
        ],
      }),
    });
    ({ doc, json, markdown } = r);
    expect(r.mandatoryViolations).toBe(0);
    expect(r.timings.map(([name]) => name)).toEqual([
      "config",
      "package",
      "program",
      "policies",
      "write",
    ]);
  }, 60_000);

  test("plan.json is exactly the document, secrets as [secret]", async () => {
    const pkg = await buildPackage({
      folder: path.join(fixture, "app"),
      outDir: path.join(tmp, "pkg"),
      applicationId: "ffmpeg",
      version: "2.0.0",
    });
    const vaultUrn = "urn:pulumi:secrets::hpc-batch::fixture:index:Vault::vault";
    const dbUrn = "urn:pulumi:secrets::hpc-batch::fixture:index:Vault$fixture:index:Db::vault-db";
    expect(JSON.parse(fs.readFileSync(path.join(out(), "plan.json"), "utf8"))).toEqual({
      format: "hpc-batch-plan/1",
      project: "hpc-batch",
      stack: "secrets",
      config: {
        "azure-native:location": "westeurope",
        "fixture:apiKey": SECRET,
        "fixture:greeting": "hello",
        "hpc-batch:applicationFolder": "app",
        "hpc-batch:batchApplicationId": "ffmpeg",
        "hpc-batch:batchApplicationVersion": "2.0.0",
        "hpc-batch:retainVersions": 5,
      },
      resources: [
        {
          urn: vaultUrn,
          type: "fixture:index:Vault",
          name: "vault",
          component: true,
          settings: {},
          inputs: {},
          options: {},
          dependsOn: [],
          standIns: [],
        },
        {
          urn: dbUrn,
          type: "fixture:index:Db",
          name: "vault-db",
          parent: vaultUrn,
          component: false,
          settings: { size: "3" },
          inputs: {
            apiKey: SECRET,
            connectionString: SECRET,
            packageUrl: SECRET,
            password: SECRET,
            size: 3,
          },
          options: { protect: true },
          dependsOn: [],
          standIns: ["id"],
        },
      ],
      outputs: {
        greeting: { value: "hello", secret: false, standIn: false },
        token: { value: SECRET, secret: true, standIn: false },
        dbId: { value: "vault-db-id", secret: false, standIn: true },
      },
      package: {
        applicationId: "ffmpeg",
        version: "2.0.0",
        versionSource: "stack config",
        file: "ffmpeg-2.0.0.zip",
        sha256: pkg.sha256,
        bytes: pkg.bytes,
        files: 1,
        staged: [],
        rollout: [],
      },
      policies: {
        ran: true,
        violations: [
          {
            policy: "fixture-policy",
            level: "advisory",
            urn: dbUrn,
            message: "checked 2 resources of secrets",
          },
        ],
      },
      standIns: { subscriptionId: STAND_IN_SUBSCRIPTION, note: STAND_IN_NOTE },
    });
    expect(json).toBe(fs.readFileSync(path.join(out(), "plan.json"), "utf8"));
    expect(doc.stack).toBe("secrets");
  });

  test.each([
    "hunter2-plaintext",
    "s3cret-output-token",
    "plain-in-code",
    "c2lnbmF0dXJl",
    SECURE_CONFIG_STAND_IN,
    "ZW5jcnlwdGVkLWFwaS1rZXktY2lwaGVydGV4dA",
  ])("neither file contains %s", (secret) => {
    for (const file of ["plan.json", "plan.md"]) {
      expect(fs.readFileSync(path.join(out(), file), "utf8")).not.toContain(secret);
    }
  });

  test("plan.md has the summary, tree, outputs, package, policies and diagram", () => {
    expect(fs.readFileSync(path.join(out(), "plan.md"), "utf8")).toBe(markdown);
    const sections = markdown.split("\n").filter((l) => l.startsWith("#"));
    expect(sections).toEqual([
      "# hpc-batch plan: stack `secrets`",
      "## Deciding settings",
      "## Resources",
      "## Stack outputs",
      "## Application package",
      "## Policies",
      "## Diagram",
    ]);
    expect(markdown).toContain(
      "**2 resources** (1 components, 1 Azure resources) · package `ffmpeg` `2.0.0` · policies: 0 mandatory and 1 advisory violation(s)",
    );
    expect(markdown).toContain(
      ["- **vault** `fixture:index:Vault`", "  - **vault-db** `fixture:index:Db` — size: `3`"].join(
        "\n",
      ),
    );
    expect(markdown).toContain(
      [
        "| `greeting` | `hello` |",
        "| `token` | `[secret]` |",
        "",
        // Values Azure computes are folded away.
        "<details><summary>1 outputs Azure computes (stand-ins †)</summary>",
        "",
        "| Output | Value |",
        "| --- | --- |",
        "| `dbId` | `vault-db-id` † |",
        "",
        "</details>",
      ].join("\n"),
    );
    expect(markdown).toContain(
      "| advisory | `fixture-policy` | `vault-db` | checked 2 resources of secrets |",
    );
    expect(markdown).toContain(
      [
        "```mermaid",
        "flowchart LR",
        '  subgraph r0["vault<br/>Vault"]',
        '    r1["vault-db<br/>Db"]',
        "  end",
        "```",
      ].join("\n"),
    );
  });
});

test("bad config fails before the program runs or anything is written", async () => {
  const outDir = path.join(tmp, "bad-out");
  const program = path.join(tmp, "must-not-load.js");
  await expect(runPlan({ root: fixture, stack: "bad", outDir, program })).rejects.toThrow(
    'hpc-batch:pool.vmSize "D2s_v5" is invalid: must be an Azure VM size',
  );
  expect(fs.existsSync(outDir)).toBe(false);
});

test.each([
  [
    "failing-invoke.ts",
    "the plan has no stand-in for the invoke fixture:index:listKeys; add one to lib/plan/planState.ts",
  ],
  ["failing-input.ts", "Thing(big).size 3 is invalid: must be at most 2"],
])("a program failure (%s) is one clear error; nothing is written", async (file, message) => {
  const outDir = path.join(tmp, `failed-${file}`);
  const run = runPlan({
    root: fixture,
    stack: "secrets",
    outDir,
    program: path.join(fixture, file),
  });
  await expect(run).rejects.toThrow(message);
  expect(fs.existsSync(outDir)).toBe(false);
});

test("out/ a symbolic link whose target is gone: the plan names the link; nothing is written", async () => {
  const root = fixtureRepo("dangling", "exports.x = 1;\n");
  fs.symlinkSync(path.join(tmp, "gone-out"), path.join(root, "out"));
  const outDir = path.join(tmp, "dangling-plan");
  const run = runPlan({ root, stack: "dangling", outDir, program: path.join(root, "program.js") });
  await expect(run).rejects.toThrow(
    `the project's out/ folder ${JSON.stringify(path.join(root, "out"))} is invalid: must be a folder hpc-batch can create or write to: ${path.join(root, "out")} is a symbolic link to ${path.join(tmp, "gone-out")}, which does not exist (remove the link, or create what it points to)`,
  );
  expect(fs.existsSync(outDir)).toBe(false);
});

test("--out-dir that cannot be made: refused before the package is built", async () => {
  const root = fixtureRepo("blocked", "exports.x = 1;\n");
  const blocker = path.join(tmp, "blocked-file");
  fs.writeFileSync(blocker, "");
  const outDir = path.join(blocker, "plans");
  await expect(
    runPlan({ root, stack: "blocked", outDir, program: path.join(root, "program.js") }),
  ).rejects.toThrow(
    `--out-dir ${JSON.stringify(outDir)} is invalid: must be a folder hpc-batch can create or write to: ${blocker} is a file, not a folder`,
  );
  expect(fs.existsSync(path.join(root, "out"))).toBe(false);
});

test("in a shallow clone without a release tag, the plan shows 0.0.0-unversioned and says why", async () => {
  // A repository with the fixture project, cloned at depth 1 as CI systems do by default.
  const origin = fixtureRepo(
    "shallow",
    'exports.version = new (require("@pulumi/pulumi").Config)("hpc-batch").get("batchApplicationVersion");\n',
  );
  git(origin, "commit", "-q", "--allow-empty", "-m", "fix: b");
  const clone = path.join(tmp, "clone");
  git(tmp, "clone", "-q", "--depth", "1", `file://${origin}`, clone);
  fs.symlinkSync(
    path.join(__dirname, "..", "..", "..", "node_modules"),
    path.join(clone, "node_modules"),
  );

  const r = await runPlan({
    root: clone,
    stack: "shallow",
    outDir: path.join(tmp, "shallow-out"),
    program: path.join(clone, "program.js"),
  });
  expect(r.doc.package?.version).toBe("0.0.0-unversioned");
  expect(r.doc.package?.versionSource).toBe(
    "not computable here, shown as 0.0.0-unversioned: hpc-batch:batchApplicationVersion must be set: the clone is shallow and has no app-v* release tag (fetch full history and tags, e.g. actions/checkout with fetch-depth: 0), so the version cannot be computed from commits",
  );
  // The program sees the stand-in version as config, as a deployment with that version set would.
  expect(r.doc.outputs.version).toEqual({
    value: "0.0.0-unversioned",
    secret: false,
    standIn: false,
  });
}, 60_000);

test("one plan reads the version history once: the program gets the plan's reading", async () => {
  // A program that resolves the version as index.ts does, relative to the project folder.
  const versionModule = JSON.stringify(
    path.join(__dirname, "..", "..", "..", "lib", "package", "version"),
  );
  const root = fixtureRepo(
    "history",
    `const { resolveApplicationVersion } = require(${versionModule});
module.exports = async () => ({ version: (await resolveApplicationVersion({ folder: "app" })).version });
`,
  );
  fs.symlinkSync(
    path.join(__dirname, "..", "..", "..", "node_modules"),
    path.join(root, "node_modules"),
  );
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const childProcess = require("node:child_process") as typeof import("node:child_process");
  const spy = jest.spyOn(childProcess, "execFile");
  let r;
  let gitRuns: string[];
  try {
    r = await runPlan({
      root,
      stack: "history",
      outDir: path.join(tmp, "history-out"),
      program: path.join(root, "program.js"),
    });
  } finally {
    gitRuns = spy.mock.calls
      .filter(([file]) => file === "git")
      .map(([, args]) => (args as string[]).join(" "));
    spy.mockRestore();
  }
  expect(gitRuns).toEqual([
    "rev-parse --show-toplevel --is-shallow-repository --verify --quiet HEAD",
    "status --porcelain -- .",
    "tag --merged HEAD --list app-v*",
    "log --no-merges -z --format=%B HEAD -- .",
  ]);
  expect(r.doc.package?.version).toBe("1.0.0-rc.1");
  expect(r.doc.outputs.version).toEqual({ value: "1.0.0-rc.1", secret: false, standIn: false });
}, 60_000);
