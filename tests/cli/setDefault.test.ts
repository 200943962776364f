import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { APPLICATION_VERSION_RULE } from "../../lib/core/naming";
import { runCli } from "../helpers";
import { startAzurite, type Azurite } from "../../standins/azurite";
import {
  ARM_APP,
  ARM_TOKEN,
  BATCH_TOKEN,
  type DeployedStackStandIns,
  stackOutputs,
  startDeployedStack,
} from "../support/deployedStack";

let azurite: Azurite;
let tmp: string;
let stack: DeployedStackStandIns | undefined;
const saved = { ...process.env };

beforeAll(async () => {
  azurite = await startAzurite();
});
afterAll(async () => {
  // Undefined when startup failed: let that error be the one reported.
  await azurite?.stop();
});
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cli-set-default-test-"));
  for (const k of Object.keys(process.env)) {
    if (/^(AZURE|ARM)_/.test(k)) delete process.env[k];
  }
  process.env.AZURE_ACCESS_TOKEN = ARM_TOKEN;
  process.env.AZURE_BATCH_ACCESS_TOKEN = BATCH_TOKEN;
});
afterEach(async () => {
  // Clean up before asserting, so a violation cannot leave servers or env behind.
  const violations = stack && { arm: stack.arm.violations, batch: stack.batch.violations };
  await stack?.close();
  stack = undefined;
  fs.rmSync(tmp, { recursive: true, force: true });
  process.env = { ...saved };
  if (violations) {
    expect(violations.arm).toEqual([]);
    expect(violations.batch).toEqual([]);
  }
});

/** The stack (current default 1.3.0 over 1.1.0, 1.2.0) with the pool's node states. */
async function deployed(
  nodes: string[],
  versions: { name: string; state?: "Active" | "Pending" }[] = [
    { name: "1.1.0" },
    { name: "1.2.0" },
    { name: "1.3.0" },
  ],
) {
  stack = await startDeployedStack({
    azurite,
    versions,
    defaultVersion: "1.3.0",
    batch: { version: "1.3.0", pool: { targetDedicatedNodes: nodes.length, nodes } },
  });
  const file = path.join(tmp, "outputs.json");
  fs.writeFileSync(file, JSON.stringify(stackOutputs(stack.batch.url, "1.3.0")));
  return {
    stack,
    args: ["--stack", "dev", "--outputs", file, "--arm-endpoint", stack.arm.url],
    file,
  };
}

test("rollback: one PATCH to the earlier version; the nodes message offers rolling the idle ones", async () => {
  const { stack, args, file } = await deployed(["idle", "running"]);
  const res = await runCli(["set-default", ...args, "--version", "1.2.0"]);
  expect(res.stderr).toBe("");
  expect(res.code).toBe(0);
  expect(stack.armCalls()).toEqual([
    `GET ${ARM_APP}`,
    `GET ${ARM_APP}/versions`,
    `PATCH ${ARM_APP}`,
  ]);
  expect(stack.arm.requests.at(-1)?.body).toEqual({ properties: { defaultVersion: "1.2.0" } });
  expect(stack.arm.applications.get("ffmpeg")?.defaultVersion).toBe("1.2.0");
  expect(stack.batch.calls()).toEqual(["GET /pools/ffmpeg-pool/nodes"]);
  expect(res.stdout).toBe(
    [
      "set-default dev: account hpcdevbatch, application ffmpeg, pool ffmpeg-pool",
      `default version: 1.2.0 (was 1.3.0). 2 nodes in pool ffmpeg-pool keep 1.3.0 until they reboot or are reimaged; nodes that join get 1.2.0. Roll the 1 idle node now: hpc-batch set-default --stack dev --outputs ${file} --version 1.2.0 --reboot-idle-nodes`,
      "",
    ].join("\n"),
  );
});

test("--reboot-idle-nodes reboots only the idle nodes (taskcompletion) and counts the others", async () => {
  const { stack, args } = await deployed(["idle", "running", "idle", "starting"]);
  const res = await runCli(["set-default", ...args, "--version", "1.2.0", "--reboot-idle-nodes"]);
  expect(res.stderr).toBe("");
  expect(res.code).toBe(0);
  expect(stack.armCalls()).toEqual([
    `GET ${ARM_APP}`,
    `GET ${ARM_APP}/versions`,
    `PATCH ${ARM_APP}`,
  ]);
  expect(stack.batch.calls()).toEqual([
    "GET /pools/ffmpeg-pool/nodes",
    "POST /pools/ffmpeg-pool/nodes/tvmps_0/reboot",
    "POST /pools/ffmpeg-pool/nodes/tvmps_2/reboot",
  ]);
  expect(stack.batch.requests.slice(1).map((r) => r.body)).toEqual([
    { nodeRebootOption: "taskcompletion" },
    { nodeRebootOption: "taskcompletion" },
  ]);
  expect(stack.batch.nodeStates()).toEqual({
    tvmps_0: "rebooting",
    tvmps_1: "running",
    tvmps_2: "rebooting",
    tvmps_3: "starting",
  });
  expect(res.stdout.split("\n").slice(1)).toEqual([
    "default version: 1.2.0 (was 1.3.0). 4 nodes in pool ffmpeg-pool keep 1.3.0 until they reboot or are reimaged; nodes that join get 1.2.0.",
    "rebooted 2 nodes (tvmps_0, tvmps_2): they install 1.2.0; left 2 nodes that are not idle alone (tvmps_1: running, tvmps_3: starting): they get 1.2.0 when rebooted or reimaged.",
    "",
  ]);
});

test("the version that already is the default: no PATCH; --reboot-idle-nodes still rolls the idle nodes", async () => {
  const { stack, args } = await deployed(["idle"]);
  const res = await runCli(["set-default", ...args, "--version", "1.3.0", "--reboot-idle-nodes"]);
  expect(res.code).toBe(0);
  expect(stack.armCalls()).toEqual([`GET ${ARM_APP}`, `GET ${ARM_APP}/versions`]);
  expect(stack.batch.calls()).toEqual([
    "GET /pools/ffmpeg-pool/nodes",
    "POST /pools/ffmpeg-pool/nodes/tvmps_0/reboot",
  ]);
  expect(res.stdout.split("\n").slice(1)).toEqual([
    "default version: 1.3.0 (unchanged). 1 node in pool ffmpeg-pool keeps the version it installed until it reboots or is reimaged; nodes that join get 1.3.0.",
    "rebooted 1 node (tvmps_0): it installs 1.3.0.",
    "",
  ]);
});

test.each([
  [
    "a Pending version",
    "1.4.0",
    "ffmpeg 1.4.0 is Pending, not Active; the default stays 1.3.0 (active versions: 1.1.0, 1.2.0, 1.3.0)",
  ],
  [
    "a missing version",
    "0.9.0",
    "ffmpeg 0.9.0 does not exist; the default stays 1.3.0 (active versions: 1.1.0, 1.2.0, 1.3.0)",
  ],
])(
  "%s is refused before any write, naming it and the active versions (exit 1)",
  async (_, version, message) => {
    const { stack, args } = await deployed(
      ["idle"],
      [
        { name: "1.1.0" },
        { name: "1.2.0" },
        { name: "1.3.0" },
        { name: "1.4.0", state: "Pending" },
      ],
    );
    const res = await runCli(["set-default", ...args, "--version", version, "--reboot-idle-nodes"]);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(`hpc-batch set-default: ${message}\n`);
    expect(stack.armCalls()).toEqual([`GET ${ARM_APP}`, `GET ${ARM_APP}/versions`]);
    expect(stack.batch.calls()).toEqual([]);
    expect(stack.arm.applications.get("ffmpeg")?.defaultVersion).toBe("1.3.0");
  },
);

test.each([
  [
    ["--version", "1.2.0+build.5"],
    `--version "1.2.0+build.5" is invalid: ${APPLICATION_VERSION_RULE}`,
  ],
  [["--version", ".1"], `--version ".1" is invalid: ${APPLICATION_VERSION_RULE}`],
  [
    ["--version", "1.2.0", "--arm-endpoint", "http://x"],
    '--arm-endpoint "http://x" is invalid: must be an https:// URL of a Resource Manager endpoint, e.g. https://management.azure.com',
  ],
  [
    ["--version", "1.2.0", "--batch-endpoint", "ftp://x"],
    '--batch-endpoint "ftp://x" is invalid: must be the Batch account\'s endpoint, e.g. mybatch.westeurope.batch.azure.com or an https:// URL',
  ],
])("set-default %j exits 2 before any call", async (flags, message) => {
  const { stack, args } = await deployed(["idle"]);
  const res = await runCli(["set-default", ...args, ...flags]);
  expect(res.code).toBe(2);
  expect(res.stderr).toBe(`hpc-batch set-default: ${message}\n`);
  expect(stack.arm.requests).toEqual([]);
  expect(stack.batch.requests).toEqual([]);
});

test("--version is required (exit 2)", async () => {
  const res = await runCli(["set-default", "--stack", "dev"]);
  expect(res.code).toBe(2);
  expect(res.stderr).toContain("required option '--version <version>' not specified");
});
