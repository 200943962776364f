/**
 * pipelines/azure-pipelines.yml, checked offline: Azure DevOps publishes no schema that validates
 * a multi-stage file without the service, so the structure is parsed and asserted: stages and
 * their order, deployment jobs on environments, the workload-identity service connection, one
 * artifact from Build to Dev to Prod, and the classic release variables mapped onto stack config.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

const root = path.join(__dirname, "../..");
const text = fs.readFileSync(path.join(root, "pipelines/azure-pipelines.yml"), "utf8");

type Variable = { name: string; value: string } | { group: string };
interface Step {
  task?: string;
  script?: string;
  checkout?: string;
  download?: string;
  artifact?: string;
  name?: string;
  displayName?: string;
  inputs?: Record<string, unknown>;
  env?: Record<string, string>;
  condition?: string;
}
interface Job {
  job?: string;
  deployment?: string;
  environment?: string;
  pool?: { vmImage: string };
  variables?: Record<string, string>;
  steps?: Step[];
  strategy?: { runOnce: { deploy: { steps: Step[] } } };
}
interface Stage {
  stage: string;
  dependsOn?: string | string[];
  condition?: string;
  lockBehavior?: string;
  variables?: Variable[];
  jobs: Job[];
}
interface Pipeline {
  trigger: unknown;
  pr: unknown;
  variables: Variable[];
  stages: Stage[];
}

const pipeline = parse(text) as Pipeline;
const stage = (name: string) => pipeline.stages.find((s) => s.stage === name)!;
const deploySteps = (name: string) => stage(name).jobs[0].strategy!.runOnce.deploy.steps;
const tasks = (steps: Step[], task: string) => steps.filter((s) => s.task === task);

/** The classic release pipeline's variables and the stack config each one sets. */
const CLASSIC: Record<string, string> = {
  location: "azure-native:location",
  resourceGroupName: "hpc-batch:resourceGroupName",
  applicationStorageAccountName: "hpc-batch:applicationStorageAccountName",
  batchAccountName: "hpc-batch:batchAccountName",
  batchAccountPoolName: "hpc-batch:batchAccountPoolName",
  batchApplicationId: "hpc-batch:batchApplicationId",
  batchAccountApplicationName: "hpc-batch:batchAccountApplicationName",
  batchApplicationVersion: "hpc-batch:batchApplicationVersion",
};

test("runs on main and on pull requests to main", () => {
  expect(pipeline.trigger).toEqual({ branches: { include: ["main"] } });
  expect(pipeline.pr).toEqual({ branches: { include: ["main"] } });
});

test("stages Build -> Dev -> Prod; deploys only from main, never for a pull request", () => {
  expect(pipeline.stages.map((s) => [s.stage, s.dependsOn])).toEqual([
    ["Build", undefined],
    ["Dev", "Build"],
    // Build too: stageDependencies reaches direct dependencies only (the artifact's outputs).
    ["Prod", ["Build", "Dev"]],
  ]);
  expect(stage("Dev").condition).toBe(
    "and(succeeded(), ne(variables['Build.Reason'], 'PullRequest'), eq(variables['Build.SourceBranch'], 'refs/heads/main'))",
  );
  expect(stage("Prod").condition).toBe("and(succeeded('Build'), succeeded('Dev'))");
  expect(stage("Dev").lockBehavior).toBe("sequential");
  expect(stage("Prod").lockBehavior).toBe("sequential");
});

test("Build: install, lint, type check, test, plan, package, publish the hpc-application artifact", () => {
  const [job] = stage("Build").jobs;
  expect(job.job).toBe("Build");
  const steps = job.steps!;
  expect(steps[0]).toEqual({ checkout: "self", fetchDepth: 0 });
  expect(tasks(steps, "NodeTool@0")[0].inputs).toEqual({ versionSpec: "$(nodeVersion)" });
  expect(tasks(steps, "Cache@2")[0].inputs?.path).toBe("$(npm_config_cache)");
  expect(steps.filter((s) => s.script && !s.name).map((s) => s.script!.trim())).toEqual([
    "npm ci --no-audit --no-fund",
    "npm run lint",
    "npm run typecheck",
    "npm test",
    "npm run plan -- $(planAgainst)",
    'echo "##vso[task.uploadsummary]$(System.DefaultWorkingDirectory)/plan.md"',
    "npm run stage-app",
  ]);
  // A pull request plans its target branch first: the run summary is then the diff against it.
  const base = steps.find((s) => s.name === "planBase")!;
  expect(base.condition).toBe("eq(variables['Build.Reason'], 'PullRequest')");
  expect((base as { continueOnError?: boolean }).continueOnError).toBe(true);
  expect(base.script).toContain(
    'git worktree add "$(Agent.TempDirectory)/base" "origin/${SYSTEM_PULLREQUEST_TARGETBRANCH#refs/heads/}"',
  );
  expect(base.script).toContain(
    'echo "##vso[task.setvariable variable=planAgainst]--against $(Agent.TempDirectory)/base-plan/plan.json"',
  );
  expect(steps.indexOf(base)).toBe(
    steps.findIndex((s) => s.script?.startsWith("npm run plan")) - 1,
  );
  expect(pipeline.variables).toContainEqual({ name: "planAgainst", value: "" });
  const pkg = steps.find((s) => s.name === "package")!;
  expect(pkg.script).toContain("node bin/hpc-batch.js package --json");
  for (const output of ["version", "sha256", "zip"]) {
    expect(pkg.script).toContain(`##vso[task.setvariable variable=${output};isOutput=true]`);
  }
  expect(tasks(steps, "PublishPipelineArtifact@1")).toEqual([
    {
      task: "PublishPipelineArtifact@1",
      displayName: "Publish the hpc-application artifact",
      inputs: {
        targetPath: "$(Build.ArtifactStagingDirectory)/hpc-application",
        artifact: "hpc-application",
      },
    },
  ]);
});

describe.each([
  ["Dev", "dev", "hpc-batch-dev"],
  ["Prod", "prod", "hpc-batch-prod"],
])("%s", (stageName, stack, environment) => {
  const steps = deploySteps(stageName);

  test("is one deployment job on its environment (approvals and checks live there)", () => {
    expect(stage(stageName).jobs).toHaveLength(1);
    const [job] = stage(stageName).jobs;
    expect(job.deployment).toBe("Deploy");
    expect(job.environment).toBe(environment);
    expect(job.variables).toEqual({
      batchApplicationVersion: "$[ stageDependencies.Build.Build.outputs['package.version'] ]",
      packageSha256: "$[ stageDependencies.Build.Build.outputs['package.sha256'] ]",
      packageZip: "$[ stageDependencies.Build.Build.outputs['package.zip'] ]",
    });
  });

  test("deploys Build's artifact after checking it byte for byte", () => {
    expect(steps.filter((s) => s.download)).toEqual([
      { download: "current", artifact: "hpc-application" },
    ]);
    const check = steps.find((s) => s.displayName?.startsWith("Check the artifact"))!;
    expect(check.env).toEqual({ SHA256: "$(packageSha256)", ZIP: "$(packageZip)" });
    expect(check.script).toContain("sha256sum -c -");
    expect(check.script).toContain('if [ "$rebuilt" != "$SHA256" ]; then');
  });

  test("signs in through the workload-identity service connection, with no stored secret", () => {
    const cli = tasks(steps, "AzureCLI@2");
    expect(cli.length).toBeGreaterThan(0);
    for (const task of cli) {
      expect(task.inputs?.azureSubscription).toBe("${{ variables.azureServiceConnection }}");
      expect(task.inputs?.scriptType).toBe("bash");
    }
    const up = cli[0];
    expect(up.inputs?.addSpnToEnvironment).toBe(true);
    const script = String(up.inputs?.inlineScript);
    expect(script).toContain(
      'export ARM_USE_OIDC=true ARM_OIDC_TOKEN="$idToken" ARM_CLIENT_ID="$servicePrincipalId" ARM_TENANT_ID="$tenantId"',
    );
    expect(script).toContain('pulumi login "$PULUMI_BACKEND_URL"');
    expect(script).toContain(`pulumi up --stack ${stack} --yes --diff`);
    expect(up.env?.PULUMI_BACKEND_URL).toBe("$(pulumiBackendUrl)");
  });

  test("maps every classic release variable onto its stack config key", () => {
    const up = tasks(steps, "AzureCLI@2")[0];
    const script = String(up.inputs?.inlineScript);
    // set_config <key> "$ENV" lines, and the env block mapping $ENV to $(classicName).
    const keyByEnv = Object.fromEntries(
      [...script.matchAll(/^set_config (\S+) "\$(\w+)"$/gm)].map((m) => [m[2], m[1]]),
    );
    const mapped = Object.fromEntries(
      Object.entries(up.env ?? {})
        .filter(([env]) => keyByEnv[env])
        .map(([env, value]) => [value.replace(/^\$\((\w+)\)$/, "$1"), keyByEnv[env]]),
    );
    expect(mapped).toEqual(CLASSIC);
    expect(script).toContain(
      `set_config() { if [ -n "$2" ]; then pulumi config set --stack ${stack} "$1" "$2"; fi; }`,
    );
  });

  test("declares the classic variables empty, then lets the environment's group set them", () => {
    const vars = stage(stageName).variables!;
    const names = Object.keys(CLASSIC).filter((n) => n !== "batchApplicationVersion");
    expect(vars).toEqual([
      ...names.map((name) => ({ name, value: "" })),
      { group: `hpc-batch-${stack}` },
    ]);
  });
});

test("the stack config keys the pipeline sets are the ones Pulumi.yaml declares", () => {
  const project = parse(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) as {
    name: string;
    config: Record<string, unknown>;
  };
  for (const key of Object.values(CLASSIC).filter((k) => k.startsWith("hpc-batch:"))) {
    expect(Object.keys(project.config)).toContain(key.slice("hpc-batch:".length));
  }
  expect(project.name).toBe("hpc-batch");
});

test("Dev verifies the deployment with a second sign-in; Prod only deploys", () => {
  const verify = (name: string) =>
    tasks(deploySteps(name), "AzureCLI@2").filter((t) =>
      String(t.inputs?.inlineScript).includes("verify"),
    );
  expect(
    verify("Dev").map((t) => String(t.inputs?.inlineScript).trim().split("\n").at(-1)),
  ).toEqual(["node bin/hpc-batch.js verify --stack dev --promote"]);
  expect(verify("Prod")).toEqual([]);
});

test("Prod runs exactly Dev's deploy steps with its own stack name", () => {
  const dev = deploySteps("Dev").filter((s) => !String(s.inputs?.inlineScript).includes("verify"));
  const asProd = JSON.parse(
    JSON.stringify(dev)
      .replaceAll("--stack dev", "--stack prod")
      .replaceAll("select dev", "select prod")
      .replaceAll("pulumi up dev", "pulumi up prod"),
  );
  expect(deploySteps("Prod")).toEqual(asProd);
});

test("names no secret: only the service connection, variable groups and an optional passphrase", () => {
  expect(text).not.toMatch(
    /servicePrincipalKey|clientSecret|client-secret|AZURE_CLIENT_SECRET|ARM_CLIENT_SECRET/,
  );
  expect(pipeline.variables).toEqual([
    { name: "azureServiceConnection", value: "hpc-batch-azure" },
    { name: "nodeVersion", value: "20.x" },
    { name: "npm_config_cache", value: "$(Pipeline.Workspace)/.npm" },
    { name: "pulumiConfigPassphrase", value: "" },
    { name: "planAgainst", value: "" },
    { group: "hpc-batch" },
  ]);
});

test("a stage reads stageDependencies only of stages it depends on directly", () => {
  // Azure Pipelines resolves stageDependencies.<stage> for direct dependencies only; anything
  // else is an empty string at run time (the tested artifact's sha256 would be lost).
  const reads = pipeline.stages.map((s) => {
    const used = [...JSON.stringify(s).matchAll(/stageDependencies\.(\w+)\./g)].map((m) => m[1]);
    const direct = s.dependsOn === undefined ? [] : ([] as string[]).concat(s.dependsOn);
    return [s.stage, [...new Set(used)].filter((u) => !direct.includes(u))];
  });
  expect(reads).toEqual([
    ["Build", []],
    ["Dev", []],
    ["Prod", []],
  ]);
  expect(JSON.stringify(stage("Prod"))).toContain("stageDependencies.Build.Build.outputs");
});
