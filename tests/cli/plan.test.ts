import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { CliResult } from "../helpers";

const repo = path.resolve(__dirname, "../..");
const fixture = path.join(repo, "tests/fixtures/plan");
let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cli-plan-test-"))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/**
 * Runs the CLI in a fresh module registry: `plan` requires the Pulumi program, which runs once
 * per registry (as once per process outside the tests).
 */
async function plan(args: string[]): Promise<CliResult> {
  let result: CliResult | undefined;
  await jest.isolateModulesAsync(async () => {
    const { runCli } = await import("../helpers");
    result = await runCli(["plan", ...args]);
  });
  return result!;
}

/** How the dev stack's pool takes changes (lib/planRender poolUpdates). */
const POOL_CHANGES =
  "in place (PATCH): application packages, scale, start task, tags; replaces the pool (deletes its nodes): " +
  "image and node agent, inter-node communication, mounts, network, node communication mode, node identity, " +
  "pool id, task slots per node, user accounts, VM size";

const read = (dir: string, file: string) => fs.readFileSync(path.join(dir, file), "utf8");

describe("hpc-batch plan on the dev stack", () => {
  let res: CliResult;
  const out = () => path.join(tmp, "dev");
  beforeAll(async () => {
    res = await plan(["--stack", "dev", "--out-dir", out()]);
  }, 120_000);

  test("exits 0 and writes plan.json and plan.md", () => {
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(fs.readdirSync(out()).sort()).toEqual(["plan.json", "plan.md"]);
    expect(res.stdout).toMatch(
      /^Plan for hpc-batch \(stack dev\): \d+ resources, \d+ components and \d+ Azure resources\n/,
    );
    expect(res.stdout).toContain(
      `\nWrote ${path.join(out(), "plan.json")} and ${path.join(out(), "plan.md")}\n`,
    );
    // Under the pool: which changes are PATCHed in place and which replace it.
    expect(res.stdout).toContain(
      `)\n│  │     changes: ${POOL_CHANGES}\n│  └─ pool-settings  pulumi-nodejs:dynamic/batch:PoolSettings  (`,
    );
  });

  test("plan.json has the exact structure", async () => {
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
    expect([doc.format, doc.project, doc.stack]).toEqual(["hpc-batch-plan/1", "hpc-batch", "dev"]);
    expect(doc.config["azure-native:location"]).toBe("westeurope");
    expect(doc.config["hpc-batch:batchApplicationId"]).toBe("ffmpeg");
    // Every registration of the program, parents before children, with the same fields.
    const rows = doc.resources.map((r: Record<string, unknown>) => [
      r.type,
      r.name,
      r.parent === undefined ? null : String(r.parent).split("::").pop(),
    ]);
    // Stable order (lib/planRender stableOrder): after parent and dependencies, then type, name.
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
        // A pool says which changes it takes in place and which replace it.
        ...(r.type === "azure-native:batch:Pool" ? ["updates"] : []),
        "inputs",
        "options",
        "dependsOn",
        "standIns",
      ]);
      expect(r.standIns.includes("id")).toBe(!r.component);
    }
    const pool = doc.resources.find((r: { type: string }) => r.type === "azure-native:batch:Pool");
    expect(pool.settings).toEqual({
      name: "hpc-batch-dev-pool",
      vmSize: "Standard_D2s_v5",
      image: "canonical/ubuntu-24_04-lts/server/latest",
      nodeAgentSkuId: "batch.node.ubuntu 24.04",
      scale: "autoscale every PT5M",
      taskSlotsPerNode: "2",
      applicationPackages: "ffmpeg (default)",
      nodeCommunication: "Simplified",
    });
    expect(pool.updates).toBe(POOL_CHANGES);
    expect(Object.keys(doc.outputs)).toEqual([
      "subscriptionId",
      "location",
      "resourceGroupName",
      "storageAccountName",
      "storageAccountId",
      "storageBlobEndpoint",
      "batchAccountName",
      "batchAccountId",
      "batchAccountEndpoint",
      "batchIdentityId",
      "batchIdentityClientId",
      "poolName",
      "applicationId",
      "applicationVersion",
      "applicationPackageSha256",
    ]);
    expect(doc.outputs.applicationPackageSha256).toEqual({
      value: doc.package.sha256,
      secret: false,
      standIn: false,
    });
    expect(doc.outputs.subscriptionId).toEqual({
      value: "00000000-0000-0000-0000-000000000000",
      secret: false,
      standIn: true,
    });
    expect(doc.outputs.poolName).toEqual({
      value: "hpc-batch-dev-pool",
      secret: false,
      standIn: false,
    });
    expect(doc.outputs.batchAccountEndpoint.value).toMatch(
      /^ba[a-z0-9]+\.westeurope\.batch\.azure\.com$/,
    );
    // The real package: ffmpeg staged from npm first, then built as `hpc-batch package` does.
    const { resolveApplicationVersion } = await import("../../lib/version");
    const { buildPackage } = await import("../../lib/zip");
    const folder = path.join(repo, "hpc-application");
    const version = (await resolveApplicationVersion({ folder })).version;
    const built = await buildPackage({
      folder,
      outDir: path.join(tmp, "pkg"),
      applicationId: "ffmpeg",
      version,
    });
    expect(doc.package).toEqual({
      applicationId: "ffmpeg",
      version,
      versionSource: expect.stringMatching(/^computed from git: \d+ commit\(s\) /),
      file: `ffmpeg-${version}.zip`,
      sha256: built.sha256,
      bytes: built.bytes,
      files: built.files,
      staged: [{ to: "bin/ffmpeg", from: "@ffmpeg-installer/linux-x64/ffmpeg" }],
      rollout: [
        expect.stringMatching(
          new RegExp(`^ffmpeg ${version.replace(/\./g, "\\.")} becomes the default version once`),
        ),
        expect.stringMatching(
          /^pool [\w-]+ references ffmpeg without a version: its nodes install the default when they join, reboot or are reimaged/,
        ),
      ],
    });
    expect(built.bytes).toBeGreaterThan(10_000_000);
    expect(doc.policies).toEqual({ ran: true, violations: [] });
    expect(doc.standIns.subscriptionId).toBe("00000000-0000-0000-0000-000000000000");
  }, 60_000);

  test("plan.md is a PR comment with the tree, outputs, package, policies and a Mermaid diagram", () => {
    const md = read(out(), "plan.md");
    expect(md.split("\n").filter((l) => l.startsWith("#"))).toEqual([
      "# hpc-batch plan: stack `dev`",
      "## Resources",
      "## Stack outputs",
      "## Application package",
      "## Policies",
      "## Diagram",
    ]);
    expect(md).toContain(
      "  - **pool** `azure-native:batch:Pool` — name: `hpc-batch-dev-pool`, vmSize: `Standard_D2s_v5`",
    );
    expect(md).toContain(`\n    - changes: ${POOL_CHANGES}\n`);
    expect(md).toContain("| `subscriptionId` | `00000000-0000-0000-0000-000000000000` † |");
    expect(md).toContain(
      "Staged into the folder before packaging: `bin/ffmpeg` from `@ffmpeg-installer/linux-x64/ffmpeg`.",
    );
    expect(md).toMatch(/```mermaid\nflowchart LR\n[\s\S]+\n```\n/);
  });
});

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
      '  [mandatory] pool-max-nodes: pool "pool": fixedScale asks for 70 nodes (60 dedicated + 10 Spot), more than the cap of 50 per pool; lower targetDedicatedNodes or targetLowPriorityNodes, or raise maxNodes in the pool-max-nodes policy config. (urn:pulumi:bigpool::hpc-batch::hpc-batch:batch:BatchPool$azure-native:batch:Pool::pool)\n',
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
    // (Node may warn here about exit listeners: every in-process plan loads a fresh Pulumi.)
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
  // --out-dir under a file: writing fails with an error quoting the path, which holds a SAS.
  const blocker = path.join(tmp, "blocker");
  fs.writeFileSync(blocker, "");
  const sasPath = path.join(blocker, "x?sv=2022-11-02&se=2030-01-01&sp=r&sig=c2lnbmF0dXJl");
  const res = await plan(["--project", fixture, "--stack", "secrets", "--out-dir", sasPath]);
  expect(res.code).toBe(1);
  expect(res.stderr).toContain(`${blocker}/x?[redacted shared access signature]`);
  expect(res.stderr).not.toContain("c2lnbmF0dXJl");
}, 60_000);
