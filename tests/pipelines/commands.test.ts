/**
 * Every `npm run <script>` and `hpc-batch <command> --flag` that a pipeline (or docs/cicd.md) runs
 * exists: scripts in package.json, commands and their options in the CLI that `buildProgram`
 * assembles. A renamed script, command or flag fails here instead of in a release.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Command } from "commander";
import { parse } from "yaml";
import { buildProgram } from "../../cli/main";

const root = path.join(__dirname, "../..");
const read = (file: string) => fs.readFileSync(path.join(root, file), "utf8");
const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;

/** Shell text the CI systems execute: `run:` (GitHub), `script:` / `inlineScript:` (Azure). */
function shellOf(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => shellOf(n, out));
  else if (node && typeof node === "object") {
    for (const [key, value] of Object.entries(node)) {
      if (["run", "script", "inlineScript", "bash"].includes(key) && typeof value === "string") {
        out.push(value);
      } else shellOf(value, out);
    }
  }
  return out;
}

/** Code blocks of a Markdown file: what a reader copies into a terminal. */
function codeBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```(?:sh|bash|shell)\n([\s\S]*?)```/g)].map((m) => m[1]);
}

const SOURCES: Record<string, string[]> = {
  ".github/workflows/pr.yml": shellOf(parse(read(".github/workflows/pr.yml"))),
  ".github/workflows/release.yml": shellOf(parse(read(".github/workflows/release.yml"))),
  "pipelines/azure-pipelines.yml": shellOf(parse(read("pipelines/azure-pipelines.yml"))),
  "docs/cicd.md": codeBlocks(read("docs/cicd.md")),
};

interface Call {
  source: string;
  line: string;
}

/** `npm run X` and `npm test` / `npm t`, as script names; one entry per source and script. */
function npmScripts(): (Call & { script: string; args: string })[] {
  const out: (Call & { script: string; args: string })[] = [];
  for (const [source, blocks] of Object.entries(SOURCES)) {
    for (const line of blocks.flatMap((b) => b.split("\n"))) {
      for (const m of line.matchAll(/\bnpm run(?: --silent)? ([\w:-]+)(?: -- ([^|;&)>]*))?/g)) {
        out.push({ source, line: line.trim(), script: m[1], args: m[2] ?? "" });
      }
      if (/\bnpm t(est)?\b/.test(line)) {
        out.push({ source, line: line.trim(), script: "test", args: "" });
      }
    }
  }
  return unique(out, (c) => `${c.source} ${c.script} ${c.args}`);
}

/**
 * `node bin/hpc-batch.js <cmd> ...` and `hpc-batch <cmd> ...`, and `npm run <script> -- <flags>`
 * where the script ends in `node bin/hpc-batch.js <cmd>`: the command and its --flags.
 */
function cliCalls(): (Call & { command: string; flags: string[] })[] {
  const out: (Call & { command: string; flags: string[] })[] = [];
  const flagsOf = (rest: string) => [...rest.matchAll(/(?:^|\s)(--[a-z][\w-]*)/g)].map((f) => f[1]);
  for (const [source, blocks] of Object.entries(SOURCES)) {
    for (const line of blocks.flatMap((b) => b.split("\n"))) {
      const re =
        /(?:\bnode bin\/hpc-batch\.js|(?:^|[\s;&|(])(?:npx )?hpc-batch)\s+([a-z][\w-]*)([^|;&)>]*)/g;
      for (const m of line.matchAll(re)) {
        out.push({ source, line: line.trim(), command: m[1], flags: flagsOf(m[2]) });
      }
    }
  }
  for (const call of npmScripts()) {
    const target = /node bin\/hpc-batch\.js ([a-z][\w-]*)$/.exec(scripts[call.script] ?? "");
    if (target && call.args) out.push({ ...call, command: target[1], flags: flagsOf(call.args) });
  }
  return unique(out, (c) => `${c.source} ${c.command} ${c.flags.join(" ")}`);
}

function unique<T>(items: T[], key: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => !seen.has(key(item)) && seen.add(key(item)));
}

const program = buildProgram({ setExitCode: () => undefined });
const commands = new Map<string, Command>(program.commands.map((c) => [c.name(), c]));

test("the pipelines call the scripts and commands this test expects to find", () => {
  // Guards the extraction itself: if these stop matching, the checks below check nothing.
  expect(new Set(npmScripts().map((c) => c.script))).toEqual(
    new Set(["lint", "typecheck", "test", "plan", "stage-app"]),
  );
  expect(new Set(cliCalls().map((c) => c.command))).toEqual(new Set(["package", "plan", "verify"]));
});

test.each(
  unique(npmScripts(), (c) => `${c.source} ${c.script}`).map((c) => [c.script, c.source] as const),
)("npm script %s (%s) exists in package.json", (script) => {
  expect(Object.keys(scripts)).toContain(script);
});

test.each(cliCalls().map((c) => [c.command, c.flags.join(" "), c.source] as const))(
  "hpc-batch %s %s (%s) is a registered command with those options",
  (command, flags) => {
    expect([...commands.keys()]).toContain(command);
    const known = commands.get(command)!.options.map((o) => o.long);
    for (const flag of flags.split(" ").filter(Boolean)) expect(known).toContain(flag);
  },
);
