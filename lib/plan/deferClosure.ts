/**
 * Defers the load of Pulumi's function serializer until something serializes a function.
 *
 * `@pulumi/pulumi` requires `runtime/closure/serializeClosure` and `runtime/closure/codePaths`
 * when it loads (runtime/index.js), and they require TypeScript (9 MB, through
 * typescript-shim.js) and `@npmcli/arborist` (about 500 modules): about half of what loading
 * Pulumi costs. Only serializing a dynamic provider (dynamic/index.js, on each registration) or
 * computing code paths uses them, which `hpc-batch plan` never does (lib/plan/simulate.ts
 * `serializeDynamicProviders: false` replaces `serializeFunction`).
 *
 * `deferClosureSerializer()` puts a stand-in for each of the two modules into `require.cache`
 * under the real module's file name, so Pulumi's own `require` gets the stand-in. Each of its
 * functions loads the real module on first call and delegates to it: a process that does
 * serialize gets the real serializer, later. Call it before anything loads `@pulumi/pulumi`; it
 * changes nothing in a process that already loaded it (nor inside jest, whose module registry
 * does not read `require.cache`).
 */
import Module from "node:module";

/** The deferred modules (inside `@pulumi/pulumi`) and the functions each one exports. */
export const DEFERRED_MODULES: Readonly<Record<string, readonly string[]>> = {
  "@pulumi/pulumi/runtime/closure/serializeClosure": [
    "serializeFunction",
    "serializeFunctionAsync",
  ],
  "@pulumi/pulumi/runtime/closure/codePaths": ["computeCodePaths", "findWorkspaceRoot"],
};

/** Marks a stand-in's exports, so tests and callers can tell it from the real module. */
export const DEFERRED = Symbol.for("hpc-batch.deferredModule");

/** Loads the real module at `file` once: drops the stand-in from the cache and requires it. */
function loader(file: string, standIn: NodeJS.Module): () => Record<string, unknown> {
  let real: Record<string, unknown> | undefined;
  return () => {
    if (real === undefined) {
      if (require.cache[file] === standIn) delete require.cache[file];
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      real = require(file) as Record<string, unknown>;
    }
    return real;
  };
}

/**
 * Installs the stand-ins; returns the file names it deferred (none when `@pulumi/pulumi` had
 * already loaded them).
 */
export function deferClosureSerializer(): string[] {
  const deferred: string[] = [];
  for (const [request, names] of Object.entries(DEFERRED_MODULES)) {
    const file = require.resolve(request);
    if (require.cache[file] !== undefined) continue;
    const standIn = new Module(file);
    standIn.filename = file;
    standIn.loaded = true;
    const load = loader(file, standIn);
    const api: Record<string | symbol, unknown> = { [DEFERRED]: true };
    for (const name of names) {
      api[name] = (...args: unknown[]) => (load()[name] as (...a: unknown[]) => unknown)(...args);
    }
    standIn.exports = api;
    require.cache[file] = standIn;
    deferred.push(file);
  }
  return deferred;
}
