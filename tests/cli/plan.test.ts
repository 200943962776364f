import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runCliFresh, type CliResult } from "../helpers";
import { POOL_IGNORE_CHANGES, POOL_REPLACE_ON_CHANGES } from "../support/expectedPool";

const repo = path.resolve(__dirname, "../..");
const fixture = path.join(repo, "tests/fixtures/plan");
let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cli-plan-test-"))));
// Every in-process plan loads a fresh Pulumi, which adds an exit listener: more than Node's
// default of 10 would print a warning into the stderr the tests compare.
process.setMaxListeners(50);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const plan = (args: string[]): Promise<CliResult> => runCliFresh(["plan", ...args]);

/** How the fixture stack's pool takes changes (lib/plan/document poolUpdates). */
const POOL_CHANGES =
  "in place (PATCH): application packages, scale, start task, tags; replaces the pool (deletes its nodes): " +
  "image and node agent, inter-node communication, mounts, network, node communication mode, node identity, " +
  "pool id, task slots per node, user accounts, VM size";

const read = (dir: string, file: string) => fs.readFileSync(path.join(dir, file), "utf8");

/** The fixture stack every review test starts from (tests/fixtures/plan/Pulumi.review.yaml). */
const REVIEW = fs.readFileSync(path.join(fixture, "Pulumi.review.yaml"), "utf8");

/**
 * A copy of the fixture project (as a checkout of another commit would be) whose review stack is
 * REVIEW after `edit`: base and head plan the same stack, as a pull request's two commits do.
 */
function reviewProject(name: string, edit?: (yaml: string) => string): string {
  const dir = path.join(tmp, "projects", name);
  fs.cpSync(fixture, dir, { recursive: true, filter: (src) => !src.endsWith(`${path.sep}out`) });
  const yaml = edit ? edit(REVIEW) : REVIEW;
  if (edit && yaml === REVIEW) throw new Error(`the edit of ${name} changed nothing`);
  fs.writeFileSync(path.join(dir, "Pulumi.review.yaml"), yaml);
  return dir;
}

/**
 * The plan of the review stack as committed, made once and shared: the tests below only read it
 * (its output, its files, and as the base of `--against`). Started by the first that needs it.
 */
let reviewPlan: Promise<CliResult> | undefined;
const reviewOut = () => path.join(tmp, "review");
const planReview = () =>
  (reviewPlan ??= plan([
    "--project",
    reviewProject("base"),
    "--stack",
    "review",
    "--out-dir",
    reviewOut(),
  ]));

describe("hpc-batch plan on a fixture stack", () => {
  let res: CliResult;
  const out = reviewOut;
  beforeAll(async () => {
    res = await planReview();
  }, 120_000);

  test("exits 0 and writes plan.json and plan.md", () => {
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(fs.readdirSync(out()).sort()).toEqual(["plan.json", "plan.md"]);
    expect(res.stdout).toMatch(
      /^Plan for hpc-batch \(stack review\): 14 resources, 4 components and 10 Azure resources\n/,
    );
    expect(res.stdout).toContain(
      `\nWrote ${path.join(out(), "plan.json")} and ${path.join(out(), "plan.md")}\n`,
    );
    // Under the pool: which changes are PATCHed in place and which replace it.
    expect(res.stdout).toContain(
      `)\n│  │     changes: ${POOL_CHANGES}\n│  └─ pool-settings  pulumi-nodejs:dynamic/batch:PoolSettings  (`,
    );
  });

  test("plan.json has the exact structure, and the settings that decide cost and risk", () => {
    const doc = JSON.parse(read(out(), "plan.json"));
    expect(Object.keys(doc)).toEqual([
      "format",
      "project",
      "stack",
      "config",
      "resources",
      "outputs",
      "package",
      "policies",
      "standIns",
    ]);
    expect([doc.format, doc.project, doc.stack]).toEqual([
      "hpc-batch-plan/1",
      "hpc-batch",
      "review",
    ]);
    // Stable order (lib/plan/document stableOrder): after parent and dependencies, then type, name.
    const rows = doc.resources.map((r: Record<string, unknown>) => [
      r.type,
      r.name,
      r.parent === undefined ? null : String(r.parent).split("::").pop(),
    ]);
    expect(rows).toEqual([
      ["azure-native:resources:ResourceGroup", "resource-group", null],
      ["hpc-batch:batch:BatchAccount", "batch", null],
      ["azure-native:managedidentity:UserAssignedIdentity", "batch-identity", "batch"],
      ["hpc-batch:batch:BatchPool", "pool", null],
      ["hpc-batch:storage:StorageAccount", "app-storage", null],
      ["azure-native:storage:StorageAccount", "app-storage", "app-storage"],
      ["azure-native:authorization:RoleAssignment", "batch-blob-data-contributor", "batch"],
      ["azure-native:authorization:RoleAssignment", "deployer-blob-data-contributor", null],
      ["azure-native:batch:BatchAccount", "batch", "batch"],
      ["azure-native:storage:BlobServiceProperties", "app-storage-blob", "app-storage"],
      ["hpc-batch:batch:ApplicationPackage", "app-package", null],
      [
        "pulumi-nodejs:dynamic/batch:ApplicationPackageVersion",
        "app-package-version",
        "app-package",
      ],
      ["azure-native:batch:Pool", "pool", "pool"],
      ["pulumi-nodejs:dynamic/batch:PoolSettings", "pool-settings", "pool"],
    ]);
    for (const r of doc.resources) {
      const keys = ["urn", "type", "name", ...(r.parent ? ["parent"] : [])];
      expect(Object.keys(r)).toEqual([
        ...keys,
        "component",
        "settings",
        ...(r.type === "azure-native:batch:Pool" ? ["updates"] : []),
        "inputs",
        "options",
        "dependsOn",
        "standIns",
      ]);
      expect(r.standIns.includes("id")).toBe(!r.component);
    }
    const byName = (type: string, name: string) =>
      doc.resources.find((r: { type: string; name: string }) => r.type === type && r.name === name);
    const pool = byName("azure-native:batch:Pool", "pool");
    expect(pool.settings).toEqual({
      name: "hpc-batch-review-pool",
      vmSize: "Standard_D2s_v5",
      image: "canonical/ubuntu-24_04-lts/server/latest",
      nodeAgentSkuId: "batch.node.ubuntu 24.04",
      scale: "autoscale every PT5M: 0 dedicated, 0 to 2 Spot",
      cores: "up to 0 dedicated (default quota 20 per account), up to 4 Spot; 2 per node",
      formula:
        "maxNodes = 2; pending = $PendingTasks.GetSamplePercent(TimeInterval_Minute * 5) < 70 ? 0 : max($PendingTasks.GetSample(TimeInterval_Minute * 5)); $TargetDedicatedNodes = 0; $TargetLowPriorityNodes = min(maxNodes, pending); $NodeDeallocationOption = taskcompletion;",
      taskSlotsPerNode: "2",
      applicationPackages: "ffmpeg (default)",
      nodeCommunication: "Simplified",
      tags: "environment=review, managed-by=hpc-batch, pulumi-project=hpc-batch, pulumi-stack=review",
    });
    expect(pool.updates).toBe(POOL_CHANGES);
    // The rules the diff decides replacement by, as the program gives them to Pulumi.
    expect(pool.options).toEqual({
      deleteBeforeReplace: true,
      replaceOnChanges: POOL_REPLACE_ON_CHANGES,
      ignoreChanges: POOL_IGNORE_CHANGES,
    });
    const role = (name: string) =>
      byName("azure-native:authorization:RoleAssignment", name).settings;
    expect(role("batch-blob-data-contributor")).toEqual({
      role: "Storage Blob Data Contributor",
      principal: "managed identity batch-identity",
      principalType: "ServicePrincipal",
      scope: expect.stringMatching(/^storage account sthpcbatchrevi[0-9a-f]+$/),
    });
    expect(role("deployer-blob-data-contributor")).toMatchObject({
      principal: "the identity running pulumi up",
      principalType: "User",
    });
    // The package version is the plan's own (config here), not a stand-in; ids are.
    expect(doc.outputs.applicationVersion).toEqual({
      value: "2.0.0",
      secret: false,
      standIn: false,
    });
    expect(doc.outputs.subscriptionId).toEqual({
      value: "00000000-0000-0000-0000-000000000000",
      secret: false,
      standIn: true,
    });
    // The package's path is the project's, relative: no checkout path in plan.json.
    expect(
      byName("pulumi-nodejs:dynamic/batch:ApplicationPackageVersion", "app-package-version").inputs
        .packagePath,
    ).toBe("out/ffmpeg-2.0.0.zip");
    expect(read(out(), "plan.json")).not.toContain(tmp);
    expect(doc.policies).toEqual({ ran: true, violations: [] });
  });

  test("plan.md leads with the deciding settings; values Azure computes are folded", () => {
    const md = read(out(), "plan.md");
    expect(md.split("\n").filter((l) => l.startsWith("#"))).toEqual([
      "# hpc-batch plan: stack `review`",
      "## Deciding settings",
      "## Resources",
      "## Stack outputs",
      "## Application package",
      "## Policies",
      "## Diagram",
    ]);
    expect(md).toContain(
      "- **pool** `Pool` — vmSize: `Standard_D2s_v5`, scale: `autoscale every PT5M: 0 dedicated, 0 to 2 Spot`, cores: `up to 0 dedicated (default quota 20 per account), up to 4 Spot; 2 per node`, formula: `maxNodes = 2; ",
    );
    expect(md).toMatch(
      /\n- \*\*batch-blob-data-contributor\*\* `RoleAssignment` — role: `Storage Blob Data Contributor`, principal: `managed identity batch-identity`, scope: `storage account sthpcbatchrevi[0-9a-f]+`\n/,
    );
    expect(md).toContain(`\n    - changes: ${POOL_CHANGES}\n`);
    expect(md).toContain("| `applicationVersion` | `2.0.0` |\n");
    expect(md).toContain(
      "<details><summary>7 outputs Azure computes (stand-ins †)</summary>\n\n| Output | Value |\n| --- | --- |\n| `subscriptionId` | `00000000-0000-0000-0000-000000000000` † |",
    );
    // The diagram: short names and deciding settings, not type tokens.
    expect(md).toContain(
      '    r12["pool<br/>Pool<br/>Standard_D2s_v5<br/>autoscale every PT5M: 0 dedicated, 0 to 2 Spot"]',
    );
    expect(md).not.toMatch(/\["[^"]*azure-native:/);
  });
});

describe("--against: what a change does, resource by resource", () => {
  const basePlan = () => path.join(reviewOut(), "plan.json");
  beforeAll(async () => {
    const res = await planReview();
    expect(res.code).toBe(0);
  }, 120_000);

  /** Plans the review stack after `edit` against the base. */
  async function head(name: string, edit: (y: string) => string, ...flags: string[]) {
    const out = path.join(tmp, `head-${name}`);
    const res = await plan([
      "--project",
      reviewProject(name, edit),
      "--stack",
      "review",
      "--out-dir",
      out,
      "--against",
      basePlan(),
      ...flags,
    ]);
    return { ...res, md: fs.existsSync(out) ? read(out, "plan.md") : "" };
  }

  test("a VM size: the pool is replaced (deleted first, nodes and tasks lost); the gate stops it with 3", async () => {
    const r = await head(
      "vmsize",
      (y) => y.replace("vmSize: Standard_D2s_v5", "vmSize: Standard_D4s_v5"),
      "--fail-on",
      "replace",
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(
      'hpc-batch plan: --fail-on replace: replaces pool (Pool): vmSize "Standard_D2s_v5" -> "Standard_D4s_v5"\n',
    );
    expect(r.stdout).toContain(
      [
        "Changes against stack review (package 2.0.0 -> 2.0.0): 1 to replace, 1 to update in place, 8 unchanged",
        "+- pool  azure-native:batch:Pool  (replace)",
        '      vmSize: "Standard_D2s_v5" -> "Standard_D4s_v5" (replaces)',
        "      ! replaces pool hpc-batch-review-pool: deleted first (its id is fixed, so the new pool cannot exist beside it), with all its nodes and the tasks running on them; jobs wait until the new pool has nodes",
        " ~ pool-settings  pulumi-nodejs:dynamic/batch:PoolSettings  (update in place)",
        '      poolCreationTime: "(the old pool\'s)" -> "(the new pool\'s)"',
      ].join("\n"),
    );
    expect(r.md).toContain(
      '| +- replace | **pool** | `Pool` | vmSize: "Standard_D2s_v5" -> "Standard_D4s_v5" (replaces) |',
    );
    expect(r.md).toContain("- ⚠️ **pool**: replaces pool hpc-batch-review-pool: deleted first");
    expect(r.md).toContain(
      "  classDef replace fill:#ffebe9,stroke:#cf222e,stroke-width:3px\n  class r12 replace\n",
    );
  });

  test("an autoscale formula: PATCHed in place by the pool's settings resource, the pool untouched", async () => {
    const r = await head(
      "formula",
      (y) => y.replace("maxNodes = 2;", "maxNodes = 4;"),
      "--fail-on",
      "replace,delete",
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      [
        "Changes against stack review (package 2.0.0 -> 2.0.0): 1 to update in place, 9 unchanged",
        " ~ pool-settings  pulumi-nodejs:dynamic/batch:PoolSettings  (update in place)",
        '      scaleSettings.autoScale.formula: "maxNodes = 2;" -> "maxNodes = 4;" (changed lines)',
        "      ! PATCHes pool hpc-batch-review-pool in place (scaleSettings): no node is removed; a new start task or package reference reaches nodes when they join, reboot or are reimaged",
        "",
      ].join("\n"),
    );
    expect(r.md).toContain("scale: `autoscale every PT5M: 0 dedicated, 0 to 4 Spot`");
  });

  test("a new package version: published, the old one kept, the default after the canary", async () => {
    const r = await head(
      "version",
      (y) => y.replace("batchApplicationVersion: 2.0.0", "batchApplicationVersion: 2.1.0"),
      "--fail-on",
      "replace",
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      [
        "Changes against stack review (package 2.0.0 -> 2.1.0): 1 to replace, 9 unchanged",
        "+- app-package-version  pulumi-nodejs:dynamic/batch:ApplicationPackageVersion  (replace (the old one is kept))",
        '      packagePath: "out/ffmpeg-2.0.0.zip" -> "out/ffmpeg-2.1.0.zip" (no effect by itself)',
        '      packageVersion: "2.0.0" -> "2.1.0" (no effect by itself)',
      ].join("\n"),
    );
    expect(r.stdout).toContain(
      [
        '      version: "2.0.0" -> "2.1.0" (replaces)',
        "      ! publishes ffmpeg 2.1.0 as a new Batch package version; 2.0.0 stays in Batch (the old resource's delete leaves it; retention prunes old versions)",
        "      ! ffmpeg 2.1.0 becomes the default version once `hpc-batch verify --promote` has run a smoke task that references it on the pool (the first release: once active)",
        "      ! pool hpc-batch-review-pool references ffmpeg without a version: its nodes install the default when they join, reboot or are reimaged; running nodes keep theirs until then",
      ].join("\n"),
    );
  });

  test("a tag: updated in place everywhere, the pool's through its settings resource", async () => {
    const r = await head("tag", (y) =>
      y.replace("environment: review", "environment: review\n    owner: render-team"),
    );
    expect(r.code).toBe(0);
    const changed = r.stdout
      .split("\n")
      .filter((l) => /^ ?[~+-]{1,2} /.test(l))
      .map((l) => l.trim());
    expect(changed).toEqual([
      "~ resource-group  azure-native:resources:ResourceGroup  (update in place)",
      "~ batch-identity  azure-native:managedidentity:UserAssignedIdentity  (update in place)",
      "~ app-storage  azure-native:storage:StorageAccount  (update in place)",
      "~ batch  azure-native:batch:BatchAccount  (update in place)",
      "~ pool-settings  pulumi-nodejs:dynamic/batch:PoolSettings  (update in place)",
    ]);
    expect(r.stdout).toContain('      tags.owner: (none) -> "render-team"\n');
  });

  test("a new resource and a removed one (against an edited base): create and delete; --fail-on delete", async () => {
    const base = JSON.parse(fs.readFileSync(basePlan(), "utf8"));
    const deployer = base.resources.findIndex(
      (r: { name: string }) => r.name === "deployer-blob-data-contributor",
    );
    base.resources.splice(deployer, 1);
    base.resources.push({
      urn: "urn:pulumi:review::hpc-batch::azure-native:batch:Pool::old-pool",
      type: "azure-native:batch:Pool",
      name: "old-pool",
      component: false,
      settings: { name: "old-pool", vmSize: "Standard_D2s_v5" },
      inputs: { poolName: "old-pool" },
      options: {},
      dependsOn: [],
      standIns: ["id"],
    });
    const edited = path.join(tmp, "edited-base.json");
    fs.writeFileSync(edited, JSON.stringify(base));
    const out = path.join(tmp, "head-edited");
    const r = await plan([
      "--project",
      reviewProject("unchanged", (y) => `${y}# unchanged\n`),
      "--stack",
      "review",
      "--out-dir",
      out,
      "--against",
      edited,
      "--fail-on",
      "delete",
      "--fail-on",
      "replace",
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe("hpc-batch plan: --fail-on delete,replace: deletes old-pool (Pool)\n");
    expect(r.stdout).toContain(
      [
        "Changes against stack review (package 2.0.0 -> 2.0.0): 1 to delete, 1 to create, 9 unchanged",
        " + deployer-blob-data-contributor  azure-native:authorization:RoleAssignment  (create)",
        "      ! grants Storage Blob Data Contributor for the identity running pulumi up on storage account sthpcbatchrevi",
      ].join("\n"),
    );
    expect(r.stdout).toContain(
      [
        " - old-pool  azure-native:batch:Pool  (delete)",
        "      ! deletes pool old-pool with all its nodes and the tasks running on them",
      ].join("\n"),
    );
    const md = read(out, "plan.md");
    expect(md).toContain('  d0["- old-pool<br/>Pool<br/>Standard_D2s_v5"]');
    expect(md).toContain("  class d0 delete\n");
  });

  test("a policy now failing: listed; --fail-on policy exits 3 (over the plan's own 1)", async () => {
    const r = await head(
      "policy",
      (y) =>
        y.replace(
          /  hpc-batch:pool:\n(    .*\n|      .*\n)+/,
          "  hpc-batch:pool:\n    dedicatedNodes: 60\n    spotNodes: 10\n",
        ),
      "--fail-on",
      "policy",
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(
      "hpc-batch plan: 1 mandatory policy violation(s)\n" +
        "hpc-batch plan: --fail-on policy: policy now failing: pool-max-nodes (mandatory) on pool\n",
    );
    expect(r.md).toContain(
      '**Policies now failing:**\n\n- ⚠️ [mandatory] `pool-max-nodes` on `pool`: pool "pool": fixedScale asks for 70 nodes',
    );
    expect(r.md).toContain(
      "cores: `up to 120 dedicated (default quota 20 per account), up to 20 Spot; 2 per node; over the default quota: the pool stays below its target unless the quota is raised`",
    );
  });
});

test("the same commit plans to the same bytes in any checkout", async () => {
  // One checkout is the shared review plan's (projects/base), the other sits deeper elsewhere.
  const b = reviewProject(path.join("deeper", "elsewhere", "checkout-b"));
  const outs = [reviewOut(), path.join(tmp, "bytes-b")];
  expect((await planReview()).code).toBe(0);
  expect((await plan(["--project", b, "--stack", "review", "--out-dir", outs[1]])).code).toBe(0);
  expect(fs.readFileSync(path.join(outs[0], "plan.json"))).toEqual(
    fs.readFileSync(path.join(outs[1], "plan.json")),
  );
  expect(read(outs[0], "plan.md")).toBe(read(outs[1], "plan.md"));
  expect(read(outs[0], "plan.json")).not.toContain(tmp);
}, 120_000);

describe("bad --against and --fail-on: exit 2 before anything is written", () => {
  test.each([
    [
      ["--fail-on", "everything"],
      '--fail-on "everything" is invalid: must be one of replace, delete, policy',
    ],
    [
      ["--fail-on", "policy,replace"],
      '--fail-on "replace" is invalid: needs --against <plan.json>: a plan alone has nothing to compare',
    ],
    [
      ["--against", "missing.json"],
      /^--against "missing\.json" is invalid: must be a readable plan\.json \(ENOENT/,
    ],
    [
      ["--against", "Pulumi.yaml"],
      /^--against "Pulumi\.yaml" is invalid: must be a plan\.json written by hpc-batch plan \(format hpc-batch-plan\/1\): /,
    ],
  ])("%j", async (flags, message) => {
    const out = path.join(tmp, "bad-flags");
    const cwd = process.cwd();
    process.chdir(fixture);
    try {
      const r = await plan([
        "--project",
        fixture,
        "--stack",
        "secrets",
        "--out-dir",
        out,
        ...flags,
      ]);
      expect(r.code).toBe(2);
      const line = r.stderr.replace(/^hpc-batch plan: /, "");
      if (typeof message === "string") expect(line).toBe(`${message}\n`);
      else expect(line).toMatch(message);
    } finally {
      process.chdir(cwd);
    }
    expect(fs.existsSync(out)).toBe(false);
  });
});

test("--timings prints the phases on stderr; without it a slow plan prints nothing there", async () => {
  const out = path.join(tmp, "timings");
  const r = await plan(["--project", fixture, "--stack", "secrets", "--out-dir", out, "--timings"]);
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(
    /^plan phases: config \d+\.\d s, package \d+\.\d s, program \d+\.\d s, policies \d+\.\d s, write \d+\.\d s\n$/,
  );
}, 60_000);

test("--json prints plan.json", async () => {
  const out = path.join(tmp, "json");
  const res = await plan(["--project", fixture, "--stack", "secrets", "--out-dir", out, "--json"]);
  expect(res.code).toBe(0);
  expect(res.stdout).toBe(read(out, "plan.json"));
}, 60_000);

test("bad config exits 2 naming the key, before anything is written", async () => {
  const out = path.join(tmp, "bad");
  const res = await plan(["--project", fixture, "--stack", "bad", "--out-dir", out]);
  expect(res.code).toBe(2);
  expect(res.stdout).toBe("");
  expect(res.stderr).toBe(
    `hpc-batch plan: hpc-batch:pool.vmSize "D2s_v5" is invalid: must be an Azure VM size such as "Standard_D2s_v5" ('Standard_' then letters, digits and '_')\n`,
  );
  expect(fs.existsSync(out)).toBe(false);
});

test("an unknown stack exits 2", async () => {
  const res = await plan(["--stack", "nosuchstack", "--out-dir", path.join(tmp, "none")]);
  expect(res.code).toBe(2);
  expect(res.stderr).toBe(
    `hpc-batch plan: --stack "nosuchstack" is invalid: must name a stack with a Pulumi.nosuchstack.yaml in ${repo}\n`,
  );
});

test("secret config renders as [secret]; neither its ciphertext nor the stand-in leaks", async () => {
  const out = path.join(tmp, "secrets");
  const res = await plan(["--project", fixture, "--stack", "secrets", "--out-dir", out]);
  expect(res.code).toBe(0);
  const doc = JSON.parse(read(out, "plan.json"));
  expect(doc.config["fixture:apiKey"]).toBe("[secret]");
  for (const text of [read(out, "plan.json"), read(out, "plan.md"), res.stdout]) {
    expect(text).not.toContain("ZW5jcnlwdGVkLWFwaS1rZXktY2lwaGVydGV4dA");
    expect(text).not.toContain("plan-stand-in-secret-value");
  }
}, 60_000);

describe("policies", () => {
  test("a mandatory violation exits 1 with the policy's message; both files are still written", async () => {
    const out = path.join(tmp, "bigpool");
    const res = await plan(["--project", fixture, "--stack", "bigpool", "--out-dir", out]);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe("hpc-batch plan: 1 mandatory policy violation(s)\n");
    expect(res.stdout).toContain(
      '  [mandatory] pool-max-nodes: pool "pool": fixedScale asks for 70 nodes (60 dedicated + 10 Spot), more than the cap of 50 per pool; lower dedicatedNodes or spotNodes (hpc-batch:pool), or raise maxNodes in the pool-max-nodes policy config. (urn:pulumi:bigpool::hpc-batch::hpc-batch:batch:BatchPool$azure-native:batch:Pool::pool)\n',
    );
    const doc = JSON.parse(read(out, "plan.json"));
    expect(
      doc.policies.violations.map((v: { policy: string; level: string }) => [v.policy, v.level]),
    ).toEqual([["pool-max-nodes", "mandatory"]]);
    expect(read(out, "plan.md")).toContain("pool-max-nodes");
  }, 60_000);

  test("--policy-config carries a deliberate exception, as pulumi up --policy-pack-config does", async () => {
    const file = path.join(tmp, "policy-config.json");
    fs.writeFileSync(file, JSON.stringify({ "pool-max-nodes": { maxNodes: 100 } }));
    const out = path.join(tmp, "bigpool-allowed");
    const res = await plan([
      "--project",
      fixture,
      "--stack",
      "bigpool",
      "--out-dir",
      out,
      "--policy-config",
      file,
    ]);
    expect(res.stderr).not.toContain("hpc-batch plan:");
    expect(res.code).toBe(0);
    expect(JSON.parse(read(out, "plan.json")).policies).toEqual({ ran: true, violations: [] });
  }, 60_000);

  test("an unreadable --policy-config exits 2 before anything is written", async () => {
    const out = path.join(tmp, "bad-policy-config");
    const res = await plan([
      "--project",
      fixture,
      "--stack",
      "bigpool",
      "--out-dir",
      out,
      "--policy-config",
      path.join(tmp, "missing.json"),
    ]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(
      /^hpc-batch plan: --policy-config ".+missing\.json" is invalid: must be a readable JSON file in the format of pulumi's --policy-pack-config \(ENOENT: no such file or directory, open '.+missing\.json'\)\n$/,
    );
    expect(fs.existsSync(out)).toBe(false);
  });
});

test("an error that is not bad input still never prints a SAS", async () => {
  // plan.json a folder in --out-dir: writing fails with an error quoting the path, with its SAS.
  const sasPath = path.join(tmp, "x?sv=2022-11-02&se=2030-01-01&sp=r&sig=c2lnbmF0dXJl");
  fs.mkdirSync(path.join(sasPath, "plan.json"), { recursive: true });
  const res = await plan(["--project", fixture, "--stack", "secrets", "--out-dir", sasPath]);
  expect(res.code).toBe(1);
  expect(res.stderr).toContain(
    `EISDIR: illegal operation on a directory, open '${tmp}/x?[redacted`,
  );
  expect(res.stderr).not.toContain("c2lnbmF0dXJl");
}, 60_000);

test("--out-dir under a file is bad input that names the file; its SAS is not printed", async () => {
  const blocker = path.join(tmp, "blocker");
  fs.writeFileSync(blocker, "");
  const sasPath = path.join(blocker, "x?sv=2022-11-02&se=2030-01-01&sp=r&sig=c2lnbmF0dXJl");
  const res = await plan(["--project", fixture, "--stack", "secrets", "--out-dir", sasPath]);
  expect(res.code).toBe(2);
  expect(res.stderr).toBe(
    `hpc-batch plan: --out-dir "${blocker}/x?[redacted shared access signature]" is invalid: ` +
      `must be a folder hpc-batch can create or write to: ${blocker} is a file, not a folder\n`,
  );
}, 60_000);

test("a stack file with `configs:` instead of `config:` is refused, naming the key (exit 2)", async () => {
  const dir = fs.mkdtempSync(path.join(tmp, "typo-"));
  fs.copyFileSync(path.join(fixture, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
  fs.writeFileSync(
    path.join(dir, "Pulumi.typo.yaml"),
    "configs:\n  azure-native:location: westeurope\n",
  );
  const res = await plan(["--project", dir, "--stack", "typo", "--out-dir", dir]);
  expect(res.code).toBe(2);
  expect(res.stderr).toBe(
    'hpc-batch plan: Pulumi.typo.yaml "configs" is invalid: is not a known top-level key of a stack file (did you mean config?); known: config, encryptedkey, encryptionsalt, environment, secretsprovider\n',
  );
  expect(fs.readdirSync(dir).sort()).toEqual(["Pulumi.typo.yaml", "Pulumi.yaml"]);
});
