/**
 * The GitHub Actions workflows, checked offline: each against the workflow schema (SchemaStore's,
 * through @action-validator/core), then the release rules the schema cannot know: keyless sign-in,
 * one artifact promoted from dev to prod, prod behind its environment, one deploy per stack.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { validateWorkflow } from "@action-validator/core";
import { parse } from "yaml";

const dir = path.join(__dirname, "../../.github/workflows");
const source = (file: string) => fs.readFileSync(path.join(dir, file), "utf8");

interface Step {
  name?: string;
  "continue-on-error"?: boolean;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
  if?: string;
  id?: string;
}
interface Job {
  name?: string;
  needs?: string | string[];
  if?: string;
  environment?: string;
  concurrency?: { group: string; "cancel-in-progress": boolean };
  permissions?: Record<string, string>;
  env?: Record<string, string>;
  strategy?: { matrix: Record<string, unknown> };
  outputs?: Record<string, string>;
  steps: Step[];
}
interface Workflow {
  name?: string;
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  concurrency?: { group: string; "cancel-in-progress": boolean };
  jobs: Record<string, Job>;
}

const pr = parse(source("pr.yml")) as Workflow;
const release = parse(source("release.yml")) as Workflow;
const prComment = parse(source("pr-comment.yml")) as Workflow;

const uses = (job: Job, action: string) => job.steps.filter((s) => s.uses === action);
const one = (job: Job, action: string): Step => {
  const found = uses(job, action);
  if (found.length !== 1) throw new Error(`expected one ${action}, found ${found.length}`);
  return found[0];
};
const runs = (job: Job) => job.steps.filter((s) => s.run).map((s) => s.run!.trim());

describe("schema", () => {
  const files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));

  test("pr.yml, pr-comment.yml and release.yml are there", () => {
    expect(files).toEqual(expect.arrayContaining(["pr.yml", "pr-comment.yml", "release.yml"]));
  });

  test.each(files)("%s is a valid workflow", (file) => {
    expect(validateWorkflow(source(file)).errors).toEqual([]);
  });

  test("the validator does reject a broken workflow (so the check above means something)", () => {
    const broken = source("release.yml").replace("id-token: write", "id-token: sometimes");
    expect(validateWorkflow(broken).errors).not.toEqual([]);
  });
});

describe("both workflows", () => {
  const all = [pr, release];

  test("default to read-only contents; only jobs that sign in to Azure get id-token: write", () => {
    for (const wf of all) {
      expect(wf.permissions).toEqual({ contents: "read" });
      for (const job of Object.values(wf.jobs)) {
        const signsIn = uses(job, "azure/login@v3").length > 0;
        expect(job.permissions?.["id-token"] === "write").toBe(signsIn);
      }
    }
  });

  test("Node 20 with the npm cache, installed from the lockfile", () => {
    for (const wf of all) {
      for (const job of Object.values(wf.jobs)) {
        expect(one(job, "actions/setup-node@v6").with).toEqual({
          "node-version": 20,
          cache: "npm",
        });
        expect(runs(job)).toContain("npm ci --no-audit --no-fund");
      }
    }
  });

  test("no stored Azure secret: sign-in is OIDC with ids from repository variables", () => {
    for (const wf of all) {
      for (const job of Object.values(wf.jobs)) {
        for (const login of uses(job, "azure/login@v3")) {
          expect(Object.keys(login.with ?? {}).sort()).toEqual([
            "client-id",
            "subscription-id",
            "tenant-id",
          ]);
          for (const value of Object.values(login.with ?? {})) {
            expect(value).toMatch(/^\$\{\{ vars\.AZURE_[A-Z_]+ \}\}$/);
          }
        }
      }
    }
    // The only secret either workflow may read: an optional Pulumi passphrase, never Azure's.
    const secrets = [source("pr.yml"), source("release.yml")]
      .flatMap((text) => text.match(/secrets\.[A-Z_]+/g) ?? [])
      .filter((s, i, list) => list.indexOf(s) === i);
    expect(secrets).toEqual(["secrets.PULUMI_CONFIG_PASSPHRASE"]);
  });

  test("azure-native signs in with OIDC too, and state goes to the azblob backend variable", () => {
    for (const wf of all) {
      for (const job of Object.values(wf.jobs).filter((j) => uses(j, "pulumi/actions@v7").length)) {
        expect(job.env).toMatchObject({
          ARM_USE_OIDC: "true",
          ARM_TENANT_ID: "${{ vars.AZURE_TENANT_ID }}",
          ARM_SUBSCRIPTION_ID: "${{ vars.AZURE_SUBSCRIPTION_ID }}",
          PULUMI_BACKEND_URL: "${{ vars.PULUMI_BACKEND_URL }}",
        });
        for (const login of uses(job, "azure/login@v3")) {
          expect(login.with?.["client-id"]).toBe(job.env?.ARM_CLIENT_ID);
        }
        for (const step of uses(job, "pulumi/actions@v7")) {
          expect(step.with?.["cloud-url"]).toBe("${{ vars.PULUMI_BACKEND_URL }}");
        }
      }
    }
  });

  test("every action is pinned to a major version", () => {
    for (const wf of all) {
      for (const job of Object.values(wf.jobs)) {
        for (const step of job.steps.filter((s) => s.uses)) {
          expect(step.uses).toMatch(/^[\w-]+\/[\w-]+@v\d+$/);
        }
      }
    }
  });
});

describe("pull requests (pr.yml)", () => {
  test("run on pull requests to main; a newer push cancels the older run", () => {
    expect(pr.on).toEqual({ pull_request: { branches: ["main"] } });
    expect(pr.concurrency).toEqual({
      group: "pr-${{ github.event.pull_request.number }}",
      "cancel-in-progress": true,
    });
  });

  test("check: lint, type check, test", () => {
    const check = pr.jobs.check;
    expect(runs(check)).toEqual([
      "npm ci --no-audit --no-fund",
      "npm run lint",
      "npm run typecheck",
      "npm test",
    ]);
    expect(check.permissions).toBeUndefined(); // the workflow's read-only default
  });

  test("plan: the base and the head planned offline, no credential; the diff as summary and artifact", () => {
    const plan = pr.jobs.plan;
    expect(plan.permissions).toBeUndefined(); // read-only: works for forks
    expect(plan.needs).toBeUndefined();
    expect(JSON.stringify(plan)).not.toMatch(/AZURE_|ARM_|azure\/login|secrets\./);
    expect(one(plan, "actions/checkout@v6").with).toEqual({ "fetch-depth": 0 });
    const base = plan.steps.find(
      (s) => s.name === "Plan the base branch with its own program and config",
    )!;
    expect(base["continue-on-error"]).toBe(true);
    expect(base.env).toEqual({ BASE_SHA: "${{ github.event.pull_request.base.sha }}" });
    expect(base.run).toContain('git worktree add "$RUNNER_TEMP/base" "$BASE_SHA"');
    expect(base.run).toContain('node bin/hpc-batch.js plan --out-dir "$RUNNER_TEMP/base-plan"');
    const head = plan.steps.find((s) => s.name === "Plan the head against the base")!;
    expect(head.run).toContain('against=(--against "$RUNNER_TEMP/base-plan/plan.json")');
    expect(head.run).toContain('npm run plan -- --out-dir plan "${against[@]}"');
    expect(runs(plan)).toContain('cat plan/plan.md >> "$GITHUB_STEP_SUMMARY"');
    expect(runs(plan)).toContain('echo "$PR_NUMBER" > plan/pr-number');
    expect(one(plan, "actions/upload-artifact@v6").with).toEqual({
      name: "plan",
      path: "plan/",
      "retention-days": 14,
    });
  });

  test("preview: only with the preview identity configured, never for forks, with a PR comment", () => {
    const preview = pr.jobs.preview;
    expect(preview.needs).toBe("check");
    expect(preview.if).toBe(
      "${{ vars.AZURE_PREVIEW_CLIENT_ID != '' && github.event.pull_request.head.repo.full_name == github.repository }}",
    );
    // No environment: the token's subject must be repo:ORG/REPO:pull_request.
    expect(preview.environment).toBeUndefined();
    expect(preview.permissions).toEqual({
      contents: "read",
      "id-token": "write",
      "pull-requests": "write",
    });
    expect(preview.strategy?.matrix).toEqual({ stack: ["dev", "prod"] });
    expect(one(preview, "azure/login@v3").with?.["client-id"]).toBe(
      "${{ vars.AZURE_PREVIEW_CLIENT_ID }}",
    );
    expect(one(preview, "pulumi/actions@v7").with).toMatchObject({
      command: "preview",
      "stack-name": "${{ matrix.stack }}",
      "comment-on-pr": true,
    });
  });
});

describe("release (release.yml)", () => {
  const { build, "deploy-dev": dev, "deploy-prod": prod } = release.jobs;

  test("runs on pushes to main (and by hand), with exactly build, dev and prod", () => {
    expect(release.on).toEqual({ push: { branches: ["main"] }, workflow_dispatch: null });
    expect(Object.keys(release.jobs)).toEqual(["build", "deploy-dev", "deploy-prod"]);
    expect(dev.if).toBe("${{ github.ref == 'refs/heads/main' }}");
  });

  test("build tests, plans and packages once, and uploads the one hpc-application artifact", () => {
    expect(runs(build).slice(0, 6)).toEqual([
      "npm ci --no-audit --no-fund",
      "npm run lint",
      "npm run typecheck",
      "npm test",
      "npm run plan",
      'cat plan.md >> "$GITHUB_STEP_SUMMARY"',
    ]);
    const pkg = build.steps.find((s) => s.id === "package")!;
    expect(pkg.run).toContain("node bin/hpc-batch.js package --json");
    expect(build.outputs).toEqual({
      version: "${{ steps.package.outputs.version }}",
      sha256: "${{ steps.package.outputs.sha256 }}",
      zip: "${{ steps.package.outputs.zip }}",
    });
    const uploads = Object.values(release.jobs).flatMap((j) =>
      uses(j, "actions/upload-artifact@v6"),
    );
    expect(uploads).toHaveLength(1);
    expect(uploads[0].with).toMatchObject({
      name: "hpc-application",
      "if-no-files-found": "error",
    });
  });

  test("dev and prod deploy that same artifact, checked byte for byte against build's sha256", () => {
    for (const job of [dev, prod]) {
      expect(one(job, "actions/download-artifact@v7").with).toEqual({
        name: "hpc-application",
        path: "artifact",
      });
      const check = job.steps.find((s) => s.name?.startsWith("Check the artifact"))!;
      expect(check.env).toEqual({
        SHA256: "${{ needs.build.outputs.sha256 }}",
        ZIP: "${{ needs.build.outputs.zip }}",
      });
      expect(check.run).toContain("sha256sum -c -");
      expect(check.run).toContain('if [ "$rebuilt" != "$SHA256" ]; then');
      expect(one(job, "pulumi/actions@v7").with?.["config-map"]).toContain(
        'value: "${{ needs.build.outputs.version }}"',
      );
    }
  });

  test("environments: dev first, then prod (its protection rules hold the approval)", () => {
    expect(dev.environment).toBe("dev");
    expect(dev.needs).toBe("build");
    expect(prod.environment).toBe("prod");
    expect(prod.needs).toEqual(["build", "deploy-dev"]);
  });

  test("one deploy per stack at a time, never cancelled midway", () => {
    expect(dev.concurrency).toEqual({ group: "pulumi-stack-dev", "cancel-in-progress": false });
    expect(prod.concurrency).toEqual({ group: "pulumi-stack-prod", "cancel-in-progress": false });
    expect(release.concurrency).toBeUndefined(); // builds of later commits may run meanwhile
  });

  test("pulumi up on each stack; dev is then verified with a fresh sign-in", () => {
    expect(one(dev, "pulumi/actions@v7").with).toMatchObject({
      command: "up",
      "stack-name": "dev",
    });
    expect(one(prod, "pulumi/actions@v7").with).toMatchObject({
      command: "up",
      "stack-name": "prod",
    });
    const names = dev.steps.map((s) => s.name ?? s.uses);
    const up = dev.steps.findIndex((s) => s.uses === "pulumi/actions@v7");
    expect(names.slice(up + 1)).toEqual([
      "Sign in again for the smoke test (fresh OIDC assertion)",
      "Verify dev (active package, steady pool, smoke task as canary, then default)",
    ]);
    expect(dev.steps.at(-1)?.run).toBe("node bin/hpc-batch.js verify --stack dev --promote");
  });

  test("prod runs exactly dev's steps up to the deploy, with its own stack name", () => {
    const upTo = (job: Job) =>
      job.steps.slice(0, job.steps.findIndex((s) => s.uses === "pulumi/actions@v7") + 1);
    const asProd = JSON.parse(
      JSON.stringify(upTo(dev)).replaceAll('"stack-name":"dev"', '"stack-name":"prod"'),
    );
    expect(upTo(prod)).toEqual(asProd);
    expect(prod.steps).toHaveLength(upTo(prod).length);
    expect(prod.env).toEqual(dev.env);
    expect(prod.permissions).toEqual(dev.permissions);
  });
});

describe("the plan comment (pr-comment.yml)", () => {
  const job = prComment.jobs.comment;
  const script = job.steps.find((s) => s.name === "Post or update the one plan comment")!;

  test("runs after pr.yml, in the base repository, never on the pull request's code", () => {
    expect(prComment.on).toEqual({
      workflow_run: { workflows: [pr.name], types: ["completed"] },
    });
    expect(prComment.permissions).toEqual({ contents: "read" });
    expect(job.permissions).toEqual({ actions: "read", "pull-requests": "write" });
    expect(job.if).toBe(
      "${{ github.event.workflow_run.event == 'pull_request' && github.event.workflow_run.conclusion != 'cancelled' }}",
    );
    // Only the artifact: no checkout, no npm, no Azure.
    expect(job.steps.map((s) => s.uses ?? s.name)).toEqual([
      "actions/download-artifact@v7",
      "Post or update the one plan comment",
    ]);
    expect(one(job, "actions/download-artifact@v7").with).toEqual({
      name: "plan",
      path: "plan",
      "run-id": "${{ github.event.workflow_run.id }}",
      "github-token": "${{ github.token }}",
    });
    expect(script.env).toEqual({
      GH_TOKEN: "${{ github.token }}",
      REPO: "${{ github.repository }}",
    });
  });

  /**
   * Runs the step's script with a stand-in `gh` on PATH that records its calls and answers the
   * comment lookup with `existing` (a comment id, or nothing).
   */
  function runComment(prNumber: string, existing: string) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pr-comment-"));
    try {
      fs.mkdirSync(path.join(dir, "plan"));
      fs.writeFileSync(path.join(dir, "plan", "pr-number"), prNumber);
      fs.writeFileSync(path.join(dir, "plan", "plan.md"), "# hpc-batch plan: stack `dev`\n");
      fs.mkdirSync(path.join(dir, "bin"));
      const gh = path.join(dir, "bin", "gh");
      fs.writeFileSync(
        gh,
        '#!/bin/sh\necho "$*" >> "$GH_LOG"\ncase "$*" in *--paginate*) [ -n "$EXISTING" ] && echo "$EXISTING" ;; esac\nexit 0\n',
      );
      fs.chmodSync(gh, 0o755);
      const env = {
        PATH: `${path.join(dir, "bin")}:${process.env.PATH}`,
        GH_LOG: path.join(dir, "gh.log"),
        EXISTING: existing,
        GH_TOKEN: "t",
        REPO: "org/repo",
      };
      let stdout = "";
      let code = 0;
      try {
        stdout = execFileSync("bash", ["-c", script.run!], {
          cwd: dir,
          env,
          // No stdin (the step reads none), as on a runner: a socket there makes bash read
          // ~/.bashrc as for a remote shell, which costs a second on a machine with a busy one.
          stdio: ["ignore", "pipe", "pipe"],
        }).toString();
      } catch (err) {
        code = (err as { status: number }).status;
      }
      const log = fs.existsSync(env.GH_LOG) ? fs.readFileSync(env.GH_LOG, "utf8") : "";
      const comment = fs.existsSync(path.join(dir, "comment.md"))
        ? fs.readFileSync(path.join(dir, "comment.md"), "utf8")
        : undefined;
      return { code, stdout, calls: log.trim().split("\n").filter(Boolean), comment };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  const lookup =
    'api repos/org/repo/issues/42/comments --paginate --jq .[] | select(.body | startswith("<!-- hpc-batch-plan -->")) | .id';

  test("the first push posts the comment, with the marker", () => {
    const r = runComment("42\n", "");
    expect(r.code).toBe(0);
    expect(r.calls).toEqual([
      lookup,
      "api --method POST repos/org/repo/issues/42/comments -F body=@comment.md",
    ]);
    expect(r.comment).toBe("<!-- hpc-batch-plan -->\n# hpc-batch plan: stack `dev`\n");
    expect(r.stdout).toBe("posted the plan on pull request 42\n");
  });

  test("a later push updates that one comment", () => {
    const r = runComment("42", "9001");
    expect(r.code).toBe(0);
    expect(r.calls).toEqual([
      lookup,
      "api --method PATCH repos/org/repo/issues/comments/9001 -F body=@comment.md",
    ]);
    expect(r.stdout).toBe("updated comment 9001 on pull request 42\n");
  });

  test("a pull request number that is not a number stops before any call", () => {
    const r = runComment("42; rm -rf /", "");
    expect(r.code).toBe(1);
    expect(r.calls).toEqual([]);
  });
});
