/**
 * No credential in what a deployment keeps or shows. The suite's fixture stack
 * (tests/support/devStack.ts) runs under the simulated engine with made-up credentials in the
 * environment (as a pipeline would have real ones), and `hpc-batch plan` writes its files for the
 * same stack; then everything is scanned with lib/core/secretScan:
 * - every registration's inputs and outputs, including the dynamic provider's serialized code
 *   (what Pulumi keeps in state): no account key, connection string, SAS, token or private key,
 *   and none of the environment's credentials;
 * - every stack output;
 * - values whose name says "credential" are Pulumi secrets (there are none today: keyless);
 * - plan.json, plan.md and what `plan` prints.
 * The error messages of the hostile-input table are scanned row by row in hostileInput.test.ts.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  findSecrets,
  isCredentialName,
  scanValue,
  type ValueFinding,
} from "../lib/core/secretScan";
import type { CliResult } from "./helpers";
import {
  FIXTURE_STACK,
  fixturePlanArgs,
  simulateDevStack,
  type DevStackRun,
} from "./support/devStack";

/** Made-up credentials with real shapes, set where a pipeline would set real ones. */
const ENV_CREDENTIALS: Record<string, string> = {
  AZURE_ACCESS_TOKEN: "eyJhbGciOiJub25lIn0.eyJhdWQiOiJhcm0iLCJleHAiOjQxMDI0NDQ4MDB9.",
  AZURE_STORAGE_ACCESS_TOKEN: "eyJhbGciOiJub25lIn0.eyJhdWQiOiJzdG9yYWdlIiwiZXhwIjo0MTAyNDQ0ODAwfQ.",
  AZURE_BATCH_ACCESS_TOKEN: "eyJhbGciOiJub25lIn0.eyJhdWQiOiJiYXRjaCIsImV4cCI6NDEwMjQ0NDgwMH0.",
  AZURE_CLIENT_SECRET: "made-up-client-secret-0123456789abcdef",
  AZURE_STORAGE_KEY: Buffer.alloc(64, 0x5a).toString("base64"),
};

const OUT_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-batch-secrets-"));
const savedEnv = { ...process.env };
let stack: DevStackRun;
let plan: CliResult;

beforeAll(async () => {
  Object.assign(process.env, ENV_CREDENTIALS);
  try {
    // The serializing run uses this file's module registry; the plan then needs a fresh one,
    // because it loads the same program (index.ts).
    stack = await simulateDevStack({ serializeDynamicProviders: true });
    await jest.isolateModulesAsync(async () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runCli } = require("./helpers") as typeof import("./helpers");
      plan = await runCli(fixturePlanArgs(OUT_DIR));
    });
  } finally {
    process.env = { ...savedEnv };
  }
}, 300_000);

afterAll(() => fs.rmSync(OUT_DIR, { recursive: true, force: true }));

const PACKAGE_TYPE = "pulumi-nodejs:dynamic/batch:ApplicationPackageVersion";
const providerCode = () =>
  String(stack.registrations.find((r) => r.type === PACKAGE_TYPE)?.inputs.__provider ?? "");

test("the scan sees the whole stack: role assignments, accounts, pool, package and its provider", () => {
  const types = new Set(stack.registrations.map((r) => r.type));
  for (const type of [
    "azure-native:authorization:RoleAssignment",
    "azure-native:storage:StorageAccount",
    "azure-native:batch:BatchAccount",
    "azure-native:batch:Pool",
    PACKAGE_TYPE,
  ]) {
    expect([type, types.has(type)]).toEqual([type, true]);
  }
  // The provider's code is really serialized (tens of kilobytes), not a placeholder.
  expect(providerCode().length).toBeGreaterThan(10_000);
  expect(Object.keys(stack.outputs).length).toBeGreaterThan(10);
});

test("no registration's inputs or outputs hold anything that looks like a credential", () => {
  const findings: ValueFinding[] = stack.registrations.flatMap((r) => [
    ...scanValue(r.inputs, `${r.type}::${r.name} inputs`),
    ...scanValue(r.outputs ?? {}, `${r.type}::${r.name} outputs`),
  ]);
  expect(findings).toEqual([]);
});

test("the dynamic provider's serialized code captured none of the environment's credentials", () => {
  const code = providerCode();
  const captured = Object.entries(ENV_CREDENTIALS)
    .filter(([, value]) => code.includes(value))
    .map(([name]) => name);
  expect(captured).toEqual([]);
});

test("no stack output holds anything that looks like a credential", () => {
  const values = Object.fromEntries(Object.entries(stack.outputs).map(([k, o]) => [k, o.value]));
  expect(scanValue(values, "outputs")).toEqual([]);
});

test("a value named like a credential is a Pulumi secret, in outputs and in inputs", () => {
  const plainOutputs = Object.entries(stack.outputs)
    .filter(([name, o]) => isCredentialName(name) && !o.secret)
    .map(([name]) => name);
  const plainInputs = stack.registrations.flatMap((r) =>
    Object.keys(r.inputs)
      .filter((k) => isCredentialName(k) && !r.secretInputs.includes(k))
      .map((k) => `${r.type}::${r.name}.${k}`),
  );
  expect({ plainOutputs, plainInputs }).toEqual({ plainOutputs: [], plainInputs: [] });
});

/**
 * What the plan printed on stderr, less the line a slow plan adds about where its time went
 * (cli/commands/plan.ts): whether it appears depends on the machine's load, not on the stack.
 */
const stderrBesidesTimings = (res: CliResult) => res.stderr.replace(/^plan took .*\n/gm, "");

describe("hpc-batch plan --project <fixture> --stack ci", () => {
  const read = (file: string) => fs.readFileSync(path.join(OUT_DIR, file), "utf8");

  test("plans (exit 0) and writes plan.json and plan.md about the same stack", () => {
    expect([plan.code, stderrBesidesTimings(plan)]).toEqual([0, ""]);
    expect(fs.readdirSync(OUT_DIR).sort()).toEqual(["plan.json", "plan.md"]);
    const doc = JSON.parse(read("plan.json")) as { stack: string; resources: unknown[] };
    expect(doc.stack).toBe(FIXTURE_STACK);
    expect(doc.resources.length).toBe(stack.registrations.length);
    expect(read("plan.md")).toContain(String(stack.outputs.storageAccountId.value));
  });

  test.each(["plan.json", "plan.md"])("%s holds nothing that looks like a credential", (file) => {
    expect(findSecrets(read(file))).toEqual([]);
  });

  test("what it prints holds nothing that looks like a credential", () => {
    expect(findSecrets(plan.stdout + plan.stderr)).toEqual([]);
  });
});
