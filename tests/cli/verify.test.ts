import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { TokenCredential } from "@azure/identity";
import * as credentials from "../../lib/azure/credentials";
import { runCli } from "../helpers";
import { startAzurite, type Azurite } from "../../standins/azurite";
import { BatchScenario, startBatchStandIn } from "../../standins/batchStandIn";
import { stackOutputs, startDeployedStack } from "../support/deployedStack";

const scenario: BatchScenario = {
  subscriptionId: "11111111-2222-3333-4444-555555555555",
  resourceGroupName: "rg-hpc-dev",
  accountName: "hpcdevbatch",
  poolId: "ffmpeg-pool",
  applicationId: "ffmpeg",
  version: "1.2.0",
  pool: { targetDedicatedNodes: 1, nodes: ["idle"] },
  task: [{ state: "running" }, { state: "completed", exitCode: 0 }],
  files: { "stdout.txt": "smoke: ok 26946 bytes in smoke-output.mp4\n" },
  batchToken: "batch-token",
  armToken: "arm-token",
};

let tmp: string;
const saved = { ...process.env };
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cli-verify-test-"));
  for (const k of Object.keys(process.env)) {
    if (/^(AZURE|ARM)_/.test(k)) delete process.env[k];
  }
  process.env.AZURE_ACCESS_TOKEN = "arm-token";
  process.env.AZURE_BATCH_ACCESS_TOKEN = "batch-token";
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  process.env = { ...saved };
});

function outputsFile(endpoint: string): string {
  const file = path.join(tmp, "outputs.json");
  fs.writeFileSync(
    file,
    JSON.stringify({
      subscriptionId: scenario.subscriptionId,
      resourceGroupName: "rg-hpc-dev",
      batchAccountName: "hpcdevbatch",
      batchAccountEndpoint: endpoint,
      poolName: "ffmpeg-pool",
      applicationId: "ffmpeg",
      applicationVersion: "1.2.0",
    }),
  );
  return file;
}

test("verify --outputs against the stand-ins: exit 0, the task's stdout, the job deleted", async () => {
  const standIn = await startBatchStandIn(scenario);
  try {
    const res = await runCli([
      "verify",
      "--stack",
      "dev",
      "--outputs",
      outputsFile(standIn.url),
      "--arm-endpoint",
      standIn.url,
      "--poll",
      "1ms",
    ]);
    expect(standIn.violations).toEqual([]);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    const lines = res.stdout.split("\n");
    const job = /hpc-batch-verify-\d{8}t\d{6}z/;
    expect(lines.filter((l) => !l.startsWith("     waiting"))).toEqual([
      "verify dev: account hpcdevbatch, pool ffmpeg-pool, package ffmpeg 1.2.0",
      "ok   package active: ffmpeg 1.2.0 is Active",
      "ok   default version: ffmpeg defaults to 1.2.0",
      "ok   pool steady: ffmpeg-pool is steady with 1 dedicated and 0 spot node(s)",
      "ok   usable node: 1 idle",
      expect.stringMatching(new RegExp(`^ok {3}job ${job.source}: task smoke submitted$`)),
      "ok   smoke task: exit code 0 on tvmps_0",
      expect.stringMatching(new RegExp(`^ok {3}job deleted: ${job.source}$`)),
      "task stdout.txt:",
      "  smoke: ok 26946 bytes in smoke-output.mp4",
      expect.stringMatching(/^verify: OK in \d+s$/),
      "",
    ]);
    expect(lines.filter((l) => l.startsWith("     waiting"))).toEqual([
      expect.stringMatching(/^ {5}waiting for a usable node: 1 idle \(\d+s\)$/),
      expect.stringMatching(/^ {5}waiting for task smoke: running \(\d+s\)$/),
      expect.stringMatching(/^ {5}waiting for task smoke: completed \(\d+s\)$/),
    ]);
    expect(standIn.jobs.size).toBe(0);
  } finally {
    await standIn.close();
  }
});

test("a failed smoke task exits 1 and the report says why (--json)", async () => {
  const standIn = await startBatchStandIn({
    ...scenario,
    task: [
      {
        state: "completed",
        failureInfo: {
          category: "usererror",
          code: "ApplicationPackageNotFound",
          message: "not found",
        },
      },
    ],
  });
  try {
    const res = await runCli([
      "verify",
      "--stack",
      "dev",
      "--outputs",
      outputsFile(standIn.url),
      "--arm-endpoint",
      standIn.url,
      "--poll",
      "1ms",
      "--json",
    ]);
    expect(standIn.violations).toEqual([]);
    expect(res.code).toBe(1);
    const report = JSON.parse(res.stdout);
    expect(report.ok).toBe(false);
    expect(report.checks.map((c: { name: string; ok: boolean }) => [c.name, c.ok])).toEqual([
      ["package active", true],
      ["default version", true],
      ["pool steady", true],
      ["usable node", true],
      ["smoke task", false],
      ["job deleted", true],
    ]);
    expect(res.stderr).toContain(
      "FAIL smoke task: did not run: usererror ApplicationPackageNotFound: not found\n",
    );
    expect(standIn.jobs.size).toBe(0);
  } finally {
    await standIn.close();
  }
});

test.each([
  [["--nodes", "0"], '--nodes "0" is invalid: must be a whole number from 1 to 1000'],
  [
    ["--timeout", "soon"],
    '--timeout "soon" is invalid: must be a positive whole number of seconds',
  ],
  [
    ["--arm-endpoint", "http://x"],
    '--arm-endpoint "http://x" is invalid: must be an https:// URL of a Resource Manager endpoint, e.g. https://management.azure.com',
  ],
  [
    ["--outputs", "/nonexistent.json"],
    '--outputs "/nonexistent.json" is invalid: must be a readable file',
  ],
])("verify %j exits 2 before any call", async (args, message) => {
  const res = await runCli(["verify", "--stack", "dev", ...args]);
  expect(res.code).toBe(2);
  expect(res.stderr).toContain(`hpc-batch verify: ${message}`);
});

test("missing outputs are named; exit 2", async () => {
  const file = path.join(tmp, "partial.json");
  fs.writeFileSync(file, JSON.stringify({ poolName: "p" }));
  const res = await runCli(["verify", "--stack", "dev", "--outputs", file]);
  expect(res.code).toBe(2);
  expect(res.stderr).toBe(
    `hpc-batch verify: --outputs ${file} ["poolName"] is invalid: must have the stack outputs subscriptionId, resourceGroupName, batchAccountName, batchAccountEndpoint, applicationId or batchApplicationId, applicationVersion or batchApplicationVersion\n`,
  );
});

test("a ready ARM token without a Batch token is bad input (one token, one audience)", async () => {
  delete process.env.AZURE_BATCH_ACCESS_TOKEN;
  const res = await runCli([
    "verify",
    "--stack",
    "dev",
    "--outputs",
    outputsFile("https://x.westeurope.batch.azure.com"),
  ]);
  expect(res.code).toBe(2);
  expect(res.stderr).toBe(
    "hpc-batch verify: AZURE_BATCH_ACCESS_TOKEN (unset) is invalid: must be set to a token for https://batch.core.windows.net when AZURE_ACCESS_TOKEN is used (a token has one audience); or unset both to use the Azure credential chain\n",
  );
});

test("no credentials: one line with the fix, not the credential chain; exit 1, nothing sent", async () => {
  delete process.env.AZURE_ACCESS_TOKEN;
  delete process.env.AZURE_BATCH_ACCESS_TOKEN;
  // DefaultAzureCredential as it fails on a machine with nothing to sign in with (its real
  // answer depends on the machine: a signed-in Azure CLI would succeed).
  const unavailable = (m: string) =>
    Object.assign(new Error(m), { name: "CredentialUnavailableError" });
  const chain: TokenCredential = {
    getToken: async () => {
      throw Object.assign(
        new Error(
          "ChainedTokenCredential authentication failed.\nCredentialUnavailableError: EnvironmentCredential is unavailable.\nCredentialUnavailableError: Azure CLI could not be found.",
        ),
        {
          name: "AggregateAuthenticationError",
          errors: [
            unavailable("EnvironmentCredential is unavailable."),
            unavailable("ManagedIdentityCredential: Network unreachable."),
            unavailable("Azure CLI could not be found."),
          ],
        },
      );
    },
  };
  const spy = jest
    .spyOn(credentials, "resolveCredentials")
    .mockReturnValue({ arm: chain, storage: chain, source: "DefaultAzureCredential" });
  try {
    const standIn = await startBatchStandIn(scenario);
    try {
      const res = await runCli([
        "verify",
        "--stack",
        "dev",
        "--outputs",
        outputsFile(standIn.url),
        "--arm-endpoint",
        standIn.url,
      ]);
      expect(res).toEqual({
        code: 1,
        stdout: "",
        stderr: `hpc-batch verify: no Azure credential for ${new URL(standIn.url).origin}/.default: run az login, or set AZURE_ACCESS_TOKEN to a token for it (a pipeline: AZURE_CLIENT_ID and AZURE_TENANT_ID with AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE)\n`,
      });
      expect(standIn.requests).toEqual([]);
    } finally {
      await standIn.close();
    }
  } finally {
    spy.mockRestore();
  }
});

describe("verify --promote", () => {
  let azurite: Azurite;
  beforeAll(async () => {
    azurite = await startAzurite();
  });
  afterAll(async () => {
    // Undefined when startup failed: let that error be the one reported.
    await azurite?.stop();
  });

  async function promote(task: BatchScenario["task"]) {
    const stack = await startDeployedStack({
      azurite,
      versions: [{ name: "1.2.0" }, { name: "1.3.0" }],
      defaultVersion: "1.2.0",
      batch: {
        version: "1.3.0",
        task,
        pool: { targetDedicatedNodes: 2, nodes: ["idle", "running"] },
      },
    });
    const file = path.join(tmp, "outputs.json");
    fs.writeFileSync(file, JSON.stringify(stackOutputs(stack.batch.url, "1.3.0")));
    try {
      const res = await runCli([
        "verify",
        "--stack",
        "dev",
        "--outputs",
        file,
        "--arm-endpoint",
        stack.arm.url,
        "--poll",
        "1ms",
        "--promote",
      ]);
      expect(stack.arm.violations).toEqual([]);
      expect(stack.batch.violations).toEqual([]);
      return { res, stack, file };
    } finally {
      await stack.close();
    }
  }

  test("a passing canary: the new default, which nodes keep the old one, the command to roll them", async () => {
    const { res, stack, file } = await promote([
      { state: "running" },
      { state: "completed", exitCode: 0 },
    ]);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(stack.arm.requests.filter((r) => r.method === "PATCH").map((r) => r.body)).toEqual([
      { properties: { defaultVersion: "1.3.0" } },
    ]);
    expect(stack.arm.applications.get("ffmpeg")?.defaultVersion).toBe("1.3.0");
    const lines = res.stdout.split("\n");
    expect(lines.filter((l) => /^(ok|FAIL) /.test(l)).slice(1, 2)).toEqual([
      "ok   default version: ffmpeg defaults to 1.2.0; 1.3.0 runs as a canary first",
    ]);
    expect(lines.filter((l) => /^(ok|FAIL) /.test(l)).at(-1)).toBe(
      "ok   promoted: ffmpeg defaults to 1.3.0 (was 1.2.0)",
    );
    expect(lines.slice(-3)).toEqual([
      expect.stringMatching(/^verify: OK in \d+s$/),
      `default version: 1.3.0 (was 1.2.0). 2 nodes in pool ffmpeg-pool keep 1.2.0 until they reboot or are reimaged; nodes that join get 1.3.0. Roll the 1 idle node now: hpc-batch set-default --stack dev --outputs ${file} --version 1.3.0 --reboot-idle-nodes`,
      "",
    ]);
  });

  test("a failed canary: exit 1, no PATCH, the version, exit code and the default still in place", async () => {
    const { res, stack } = await promote([
      {
        state: "completed",
        exitCode: 126,
        failureInfo: { category: "usererror", code: "FailureExitCode", message: "exit code 126" },
      },
    ]);
    expect(res.code).toBe(1);
    expect(stack.arm.requests.filter((r) => r.method === "PATCH")).toEqual([]);
    expect(stack.arm.applications.get("ffmpeg")?.defaultVersion).toBe("1.2.0");
    const lines = res.stdout.split("\n");
    expect(lines).toContain(
      "FAIL promoted: ffmpeg 1.3.0 is not the default: its canary failed (exit code 126 (usererror FailureExitCode: exit code 126) on tvmps_0); the default is still 1.2.0",
    );
    expect(lines.at(-2)).toMatch(/^verify: FAILED \(smoke task, promoted\) after \d+s$/);
  });
});
