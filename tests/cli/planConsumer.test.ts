/**
 * `hpc-batch plan` on another project (`project` mode, lib/plan/plan.ts): the example consumer
 * (examples/hashfiles) planned with its own program and config, as CI plans it (.ci/run).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runCliFresh, type CliResult } from "../helpers";

const repo = path.resolve(__dirname, "../..");
const example = path.join(repo, "examples", "hashfiles");
let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cli-plan-consumer-test-"))));
// Every in-process plan loads a fresh Pulumi, which adds an exit listener (see plan.test.ts).
process.setMaxListeners(50);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const plan = (args: string[]): Promise<CliResult> => runCliFresh(["plan", ...args]);

const read = (dir: string, file: string) => fs.readFileSync(path.join(dir, file), "utf8");

/**
 * Another checkout of the example: its folder copied (less out/), the library it imports
 * (`../../components`) and node_modules linked, so it resolves as in the repository.
 */
function checkout(name: string, edit?: (yaml: string) => string): string {
  const top = path.join(tmp, name);
  const dir = path.join(top, "examples", "hashfiles");
  fs.cpSync(example, dir, { recursive: true, filter: (src) => !src.endsWith(`${path.sep}out`) });
  fs.symlinkSync(path.join(repo, "components"), path.join(top, "components"));
  fs.symlinkSync(path.join(repo, "node_modules"), path.join(top, "node_modules"));
  if (edit) {
    const file = path.join(dir, "Pulumi.example.yaml");
    const yaml = fs.readFileSync(file, "utf8");
    if (edit(yaml) === yaml) throw new Error(`the edit of ${name} changed nothing`);
    fs.writeFileSync(file, edit(yaml));
  }
  return dir;
}

const MODE =
  "Mode: project (Pulumi.yaml name hashfiles, not hpc-batch): ran its own program index.ts; hpc-batch's config checks and package build skipped\n";
const base = () => path.join(tmp, "base");
let basePlan: Promise<CliResult> | undefined;
const planBase = () =>
  (basePlan ??= plan([
    "--project",
    "examples/hashfiles",
    "--stack",
    "example",
    "--out-dir",
    base(),
  ]));

describe("hpc-batch plan --project examples/hashfiles --stack example", () => {
  let res: CliResult;
  let doc: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  beforeAll(async () => {
    res = await planBase();
    doc = JSON.parse(read(base(), "plan.json"));
  }, 120_000);

  test("exits 0, says which mode ran, and writes plan.json and plan.md", () => {
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(fs.readdirSync(base()).sort()).toEqual(["plan.json", "plan.md"]);
    expect(res.stdout.startsWith(MODE)).toBe(true);
    expect(res.stdout.split("\n")[1]).toBe(
      "Plan for hashfiles (stack example): 14 resources, 4 components and 10 Azure resources",
    );
  });

  test("plan.json: the example's project, config as Pulumi reads it, its resources in stable order", () => {
    expect([doc.format, doc.project, doc.stack]).toEqual([
      "hpc-batch-plan/1",
      "hashfiles",
      "example",
    ]);
    expect(doc.config).toEqual({
      "azure-native:location": "westeurope",
      "hashfiles:applicationVersion": "1.0.0",
      "hashfiles:batchAccountName": "bahashfilesexample01",
      "hashfiles:deployerPrincipalType": "User",
      "hashfiles:resourceGroupName": "rg-hashfiles-example",
      "hashfiles:spotNodes": 1,
      "hashfiles:storageAccountName": "sthashfilesexample01",
    });
    const rows = doc.resources.map((r: Record<string, unknown>) => [
      r.type,
      r.name,
      r.parent === undefined ? null : String(r.parent).split("::").pop(),
    ]);
    expect(rows).toEqual([
      ["azure-native:resources:ResourceGroup", "hashfiles", null],
      ["hpc-batch:batch:BatchAccount", "hashfiles", null],
      ["azure-native:managedidentity:UserAssignedIdentity", "hashfiles-identity", "hashfiles"],
      ["hpc-batch:batch:BatchPool", "hashfiles", null],
      ["hpc-batch:storage:StorageAccount", "hashfiles", null],
      ["azure-native:storage:StorageAccount", "hashfiles", "hashfiles"],
      ["azure-native:authorization:RoleAssignment", "hashfiles-blob-data-contributor", "hashfiles"],
      [
        "azure-native:authorization:RoleAssignment",
        "hashfiles-deployer-blob-data-contributor",
        null,
      ],
      ["azure-native:batch:BatchAccount", "hashfiles", "hashfiles"],
      ["azure-native:storage:BlobServiceProperties", "hashfiles-blob", "hashfiles"],
      ["hpc-batch:batch:ApplicationPackage", "hashfiles", null],
      ["pulumi-nodejs:dynamic/batch:ApplicationPackageVersion", "hashfiles-version", "hashfiles"],
      ["azure-native:batch:Pool", "hashfiles", "hashfiles"],
      ["pulumi-nodejs:dynamic/batch:PoolSettings", "hashfiles-settings", "hashfiles"],
    ]);
    const pool = doc.resources.find((r: { type: string }) => r.type === "azure-native:batch:Pool");
    expect(pool.settings.scale).toBe("fixed: 0 dedicated, 1 Spot");
  });

  test("the package is the zip the program's package version publishes, with its rollout", () => {
    const zip = fs.readFileSync(path.join(example, "out", "hashfiles-1.0.0.zip"));
    expect(doc.package).toEqual({
      applicationId: "hashfiles",
      version: "1.0.0",
      versionSource: "set by the program",
      file: "hashfiles-1.0.0.zip",
      sha256: createHash("sha256").update(zip).digest("hex"),
      bytes: zip.length,
      files: 1,
      staged: [],
      rollout: [
        "hashfiles 1.0.0 becomes the default version once active",
        "pool hashfiles references hashfiles without a version: its nodes install the default when they join, reboot or are reimaged; running nodes keep theirs until then (`hpc-batch set-default --stack <stack> --version <version> --reboot-idle-nodes` rolls the idle ones); the pool itself is not changed",
      ],
    });
  });

  test("the policy pack ran: the example sets no tags (advisory only, exit 0)", () => {
    expect(doc.policies.ran).toBe(true);
    expect(
      doc.policies.violations.map((v: Record<string, string>) => [
        v.policy,
        v.level,
        v.urn.split("::").slice(-2).join("::"),
      ]),
    ).toEqual([
      ["required-tags", "advisory", "azure-native:resources:ResourceGroup::hashfiles"],
      [
        "required-tags",
        "advisory",
        "hpc-batch:batch:BatchAccount$azure-native:batch:BatchAccount::hashfiles",
      ],
      [
        "required-tags",
        "advisory",
        "hpc-batch:batch:BatchAccount$azure-native:managedidentity:UserAssignedIdentity::hashfiles-identity",
      ],
      [
        "required-tags",
        "advisory",
        "hpc-batch:storage:StorageAccount$azure-native:storage:StorageAccount::hashfiles",
      ],
    ]);
    expect(res.stdout).toContain("\nPolicies: 0 mandatory and 4 advisory violation(s)\n");
  });

  test("--json prints plan.json alone on stdout, the mode line on stderr", async () => {
    const r = await plan([
      "--project",
      "examples/hashfiles",
      "--stack",
      "example",
      "--out-dir",
      path.join(tmp, "json"),
      "--json",
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(read(path.join(tmp, "json"), "plan.json"));
    expect(r.stderr).toBe(MODE);
  }, 120_000);
});

test("the same example plans to the same bytes in another checkout", async () => {
  const other = checkout(path.join("deeper", "checkout-b"));
  const out = path.join(tmp, "bytes-b");
  expect((await planBase()).code).toBe(0);
  expect((await plan(["--project", other, "--stack", "example", "--out-dir", out])).code).toBe(0);
  expect(fs.readFileSync(path.join(out, "plan.json"))).toEqual(
    fs.readFileSync(path.join(base(), "plan.json")),
  );
  expect(read(out, "plan.md")).toBe(read(base(), "plan.md"));
  expect(read(out, "plan.json")).not.toContain(tmp);
}, 120_000);

test("--against: one more Spot node is PATCHed in place by the pool's settings resource", async () => {
  const head = checkout("spot", (y) =>
    y.replace("hashfiles:spotNodes: 1", "hashfiles:spotNodes: 2"),
  );
  expect((await planBase()).code).toBe(0);
  const res = await plan([
    "--project",
    head,
    "--stack",
    "example",
    "--out-dir",
    path.join(tmp, "spot-out"),
    "--against",
    path.join(base(), "plan.json"),
    "--fail-on",
    "replace,delete",
  ]);
  expect(res.stderr).toBe("");
  expect(res.code).toBe(0);
  expect(res.stdout.split("\n").slice(0, 7)).toEqual([
    MODE.trimEnd(),
    "Plan for hashfiles (stack example): 14 resources, 4 components and 10 Azure resources",
    "",
    "Changes against stack example (package 1.0.0 -> 1.0.0): 1 to update in place, 9 unchanged",
    " ~ hashfiles-settings  pulumi-nodejs:dynamic/batch:PoolSettings  (update in place)",
    "      scaleSettings.fixedScale.targetLowPriorityNodes: 1 -> 2",
    "      ! PATCHes pool hashfiles in place (scaleSettings): no node is removed; a new start task or package reference reaches nodes when they join, reboot or are reimaged",
  ]);
  expect(read(path.join(tmp, "spot-out"), "plan.md")).toContain(
    "## Changes against `example`\n\n1 to update in place, 9 unchanged; package `1.0.0` -> `1.0.0`.\n",
  );
}, 120_000);
