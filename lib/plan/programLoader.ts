/**
 * Loading another project's Pulumi program as the Pulumi CLI runs a `runtime: nodejs` project:
 * its entry is Pulumi.yaml `main` (else the folder, resolved as Node resolves it), and a
 * TypeScript program is compiled on load (the CLI uses ts-node; the plan transpiles each file with
 * the `typescript` package the project itself needs, without a type check, as ts-node's
 * `transpileOnly`: `npm run typecheck` is where types are checked).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { InputError } from "../core/errors";

/** The program's entry file: Pulumi.yaml `main` relative to the project folder, else the folder. */
export function projectProgram(root: string): string {
  const project = (parseYaml(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) ??
    {}) as Record<string, unknown>;
  const main = project.main ?? ".";
  if (typeof main !== "string" || main === "") {
    throw new InputError("Pulumi.yaml main", main, "must be a path relative to the project folder");
  }
  registerTypeScript(root);
  const entry = path.resolve(root, main);
  try {
    return require.resolve(entry);
  } catch {
    throw new InputError(
      "Pulumi.yaml main",
      main,
      `must name the program's entry file (or a folder holding index.ts or index.js) in ${root}`,
    );
  }
}

/**
 * Compiles `.ts` files on require, once per process; a no-op where something already does (ts-node,
 * or jest running the plan from its sources).
 */
function registerTypeScript(root: string): void {
  // `require.extensions` is deprecated for new loaders but is what ts-node itself hooks.
  const extensions = require.extensions;
  if (extensions === undefined || extensions[".ts"] !== undefined || __filename.endsWith(".ts"))
    return;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ts = require(
    require.resolve("typescript", { paths: [root, __dirname] }),
  ) as typeof import("typescript");
  const compilerOptions = {
    module: ts.ModuleKind.CommonJS,
    target: ts.ScriptTarget.ES2022,
    esModuleInterop: true,
    inlineSourceMap: true,
  };
  extensions[".ts"] = (module, filename) => {
    const source = fs.readFileSync(filename, "utf8");
    const { outputText } = ts.transpileModule(source, { compilerOptions, fileName: filename });
    (module as unknown as { _compile(code: string, file: string): void })._compile(
      outputText,
      filename,
    );
  };
}
