/**
 * The CrossGuard side of the pack.
 *
 * `new PolicyPack(...)` starts a gRPC server at once and prints its port for the Pulumi CLI
 * (node_modules/@pulumi/policy/policy.js calls serve() in the constructor), so importing
 * policy/index.ts for real inside jest would leave a server running. Hence two parts:
 * 1. policy/index.ts imported with `PolicyPack` mocked: what it hands to the pack, and how the
 *    adapted policies behave on the arguments CrossGuard passes them;
 * 2. the pack booted in a child process exactly as the Pulumi CLI boots it (cwd policy/, node
 *    running @pulumi/pulumi/cmd/run-policy-pack resolved from there), then queried over gRPC and
 *    stopped: proof that `pulumi preview --policy-pack policy` loads it from this repo layout.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import * as path from "node:path";
import {
  PolicyPack,
  type ResourceValidationArgs,
  type ResourceValidationPolicy,
} from "@pulumi/policy";
import { POLICIES } from "../../policy/policies";
import "../../policy/index";

jest.mock("@pulumi/policy", () => ({ PolicyPack: jest.fn() }));

const POLICY_DIR = path.join(__dirname, "..", "..", "policy");

// ---------------------------------------------------------------------------------------------
// 1. policy/index.ts with PolicyPack mocked

const PackMock = jest.mocked(PolicyPack);

function constructedPolicies(): ResourceValidationPolicy[] {
  return PackMock.mock.calls[0][1].policies as ResourceValidationPolicy[];
}

class NotApplicable extends Error {}

/** The arguments CrossGuard passes `validateResource` (only what the adapter reads is real). */
function crossGuardArgs(
  type: string,
  name: string,
  props: Record<string, unknown>,
  config: Record<string, unknown> = {},
  stack = "dev",
): ResourceValidationArgs {
  return {
    type,
    name,
    urn: `urn:pulumi:${stack}::hpc-batch::${type}::${name}`,
    props,
    getConfig: () => config,
    notApplicable: (reason?: string) => {
      throw new NotApplicable(reason);
    },
  } as unknown as ResourceValidationArgs;
}

function validate(policyName: string, args: ResourceValidationArgs): string[] {
  const policy = constructedPolicies().find((p) => p.name === policyName)!;
  const reported: string[] = [];
  (policy.validateResource as (a: unknown, r: (m: string) => void) => void)(args, (m) =>
    reported.push(m),
  );
  return reported;
}

test("policy/index.ts constructs one PolicyPack named hpc-batch with every policy", () => {
  expect(PackMock).toHaveBeenCalledTimes(1);
  const [name, args, initialConfig] = PackMock.mock.calls[0];
  expect(name).toBe("hpc-batch");
  expect(initialConfig).toBeUndefined();
  expect({ ...args, policies: undefined }).toEqual({
    description:
      "Security and cost guard rails for hpc-batch on Azure Batch: storage, Batch accounts, " +
      "pools and application packages.",
    provider: "azure",
    policies: undefined,
  });
  expect(
    constructedPolicies().map(({ name, description, enforcementLevel, configSchema }) => ({
      name,
      description,
      enforcementLevel,
      configSchema,
    })),
  ).toEqual(
    POLICIES.map(({ name, description, enforcementLevel, configSchema }) => ({
      name,
      description,
      enforcementLevel,
      configSchema,
    })),
  );
});

test("an adapted policy reports each message of its check", () => {
  const args = crossGuardArgs("azure-native:storage:StorageAccount", "data", {
    enableHttpsTrafficOnly: false,
  });
  expect(validate("storage-https-only", args)).toEqual([
    'storage account "data": enableHttpsTrafficOnly is false; set enableHttpsTrafficOnly: true so the account refuses plain HTTP.',
  ]);
});

test("an adapted policy is not applicable to other types", () => {
  const args = crossGuardArgs("azure-native:batch:Pool", "hpc", {});
  expect(() => validate("storage-https-only", args)).toThrow(
    new NotApplicable("applies only to azure-native:storage:StorageAccount"),
  );
});

test("an adapted policy takes its settings from getConfig() and the stack from the URN", () => {
  const pool = {
    scaleSettings: { fixedScale: { targetDedicatedNodes: 3, targetLowPriorityNodes: 2 } },
  };
  const type = "azure-native:batch:Pool";
  expect(validate("pool-max-nodes", crossGuardArgs(type, "hpc", pool, { maxNodes: 4 }))).toEqual([
    'pool "hpc": fixedScale asks for 5 nodes (3 dedicated + 2 Spot), more than the cap of 4 per pool; lower dedicatedNodes or spotNodes (hpc-batch:pool), or raise maxNodes in the pool-max-nodes policy config.',
  ]);
  expect(validate("pool-max-nodes", crossGuardArgs(type, "hpc", pool))).toEqual([]);
  expect(validate("dev-stack-spot-nodes", crossGuardArgs(type, "hpc", pool, {}, "prod"))).toEqual(
    [],
  );
  expect(validate("dev-stack-spot-nodes", crossGuardArgs(type, "hpc", pool, {}, "dev"))).toEqual([
    'pool "hpc": stack "dev" is a development stack but asks for 3 dedicated nodes; set dedicatedNodes: 0 and use spotNodes (hpc-batch:pool) instead, which cost a fraction as much.',
  ]);
});

// ---------------------------------------------------------------------------------------------
// 2. The pack booted as the Pulumi CLI boots it

// The gRPC stubs and protobuf runtime the pack's server itself uses, loaded from @pulumi/pulumi.
const fromPulumi = createRequire(require.resolve("@pulumi/pulumi/package.json"));
/* eslint-disable @typescript-eslint/no-explicit-any -- generated protobuf stubs are untyped */
const grpc = fromPulumi("@grpc/grpc-js");
const rpc = fromPulumi("./proto/analyzer_grpc_pb");
const pb = fromPulumi("./proto/analyzer_pb");
const { Struct } = fromPulumi("google-protobuf/google/protobuf/struct_pb");
const { Empty } = fromPulumi("google-protobuf/google/protobuf/empty_pb");

const LEVELS = ["advisory", "mandatory", "disabled", "remediate"]; // pulumirpc.EnforcementLevel

let pack: ChildProcess | undefined;
let client: any;

/** Calls a unary RPC of the pack. */
function call<T>(method: string, request: unknown): Promise<T> {
  return new Promise((resolve, reject) =>
    client[method](request, (err: Error | null, res: T) => (err ? reject(err) : resolve(res))),
  );
}

beforeAll(async () => {
  // What `pulumi-analyzer-policy` does: resolve the runner from the pack's folder, run it there
  // with the engine's address and "." (the CLI passes the pack path as the plugin's cwd).
  const runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [POLICY_DIR] });
  const child = spawn(process.execPath, [runner, "127.0.0.1:0", "."], { cwd: POLICY_DIR });
  pack = child;
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const port = await new Promise<string>((resolve, reject) => {
    let stdout = "";
    child.stdout.on("data", (d) => {
      stdout += d;
      if (stdout.includes("\n")) resolve(stdout.trim());
    });
    child.on("exit", (code) => reject(new Error(`the pack exited with ${code}: ${stderr}`)));
  });
  expect(port).toMatch(/^\d+$/);
  client = new rpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  // Waits for the pack to be gone: a child still exiting when the file ends kept jest's worker
  // alive past the run ("A worker process has failed to exit gracefully").
  if (pack && pack.exitCode === null && pack.signalCode === null) {
    const gone = new Promise((resolve) => pack!.once("exit", resolve));
    pack.kill();
    await gone;
  }
});

function analyzeRequest(type: string, name: string, stack: string, props: object): unknown {
  const req = new pb.AnalyzeRequest();
  req.setType(type);
  req.setName(name);
  req.setUrn(`urn:pulumi:${stack}::hpc-batch::${type}::${name}`);
  req.setProperties(Struct.fromJavaScript(props));
  req.setOptions(new pb.AnalyzerResourceOptions());
  return req;
}

interface Diagnostic {
  policy: string;
  level: string;
  message: string;
}

async function analyze(req: unknown): Promise<Diagnostic[]> {
  const res = await call<any>("analyze", req);
  return res.getDiagnosticsList().map((d: any) => ({
    policy: d.getPolicyname(),
    level: LEVELS[d.getEnforcementlevel()],
    message: d.getMessage(),
  }));
}

const descriptionOf = (name: string) => POLICIES.find((p) => p.name === name)!.description;

test("the booted pack describes itself as hpc-batch with every policy and its level", async () => {
  const info = await call<any>("getAnalyzerInfo", new Empty());
  expect(info.getName()).toBe("hpc-batch");
  expect(info.getVersion()).toBe("0.1.0"); // from policy/package.json, read by PolicyPack
  expect(
    info.getPoliciesList().map((p: any) => [p.getName(), LEVELS[p.getEnforcementlevel()]]),
  ).toEqual(POLICIES.map((p) => [p.name, p.enforcementLevel]));
});

test("the booted pack reports a violation the way the CLI shows it", async () => {
  const req = analyzeRequest("azure-native:storage:StorageAccount", "data", "prod", {
    enableHttpsTrafficOnly: true,
    minimumTlsVersion: "TLS1_2",
    allowBlobPublicAccess: true,
    allowSharedKeyAccess: false,
    tags: { app: "hpc-batch" },
  });
  expect(await analyze(req)).toEqual([
    {
      policy: "storage-no-public-blob-access",
      level: "mandatory",
      message:
        `${descriptionOf("storage-no-public-blob-access")}\n` +
        'storage account "data": allowBlobPublicAccess is true; set allowBlobPublicAccess: false so no container can be opened to anonymous readers.',
    },
  ]);
});

test("the booted pack takes policy config from the CLI and the stack from the URN", async () => {
  const configure = new pb.ConfigureAnalyzerRequest();
  const maxNodes = new pb.PolicyConfig();
  maxNodes.setEnforcementlevel(1); // mandatory
  maxNodes.setProperties(Struct.fromJavaScript({ maxNodes: 4 }));
  configure.getPolicyconfigMap().set("pool-max-nodes", maxNodes);
  await call("configure", configure);

  const pool = {
    deploymentConfiguration: {
      virtualMachineConfiguration: { nodeAgentSkuId: "batch.node.ubuntu 24.04" },
    },
    targetNodeCommunicationMode: "Simplified",
    scaleSettings: { fixedScale: { targetDedicatedNodes: 3, targetLowPriorityNodes: 2 } },
  };
  expect(await analyze(analyzeRequest("azure-native:batch:Pool", "hpc", "dev", pool))).toEqual([
    {
      policy: "pool-max-nodes",
      level: "mandatory",
      message:
        `${descriptionOf("pool-max-nodes")}\n` +
        'pool "hpc": fixedScale asks for 5 nodes (3 dedicated + 2 Spot), more than the cap of 4 per pool; lower dedicatedNodes or spotNodes (hpc-batch:pool), or raise maxNodes in the pool-max-nodes policy config.',
    },
    {
      policy: "dev-stack-spot-nodes",
      level: "advisory",
      message:
        `${descriptionOf("dev-stack-spot-nodes")}\n` +
        'pool "hpc": stack "dev" is a development stack but asks for 3 dedicated nodes; set dedicatedNodes: 0 and use spotNodes (hpc-batch:pool) instead, which cost a fraction as much.',
    },
  ]);
});
/* eslint-enable @typescript-eslint/no-explicit-any */
