/**
 * `@npmcli/arborist` as the suite's module registries see it (jest.config.js moduleNameMapper):
 * the real module, loaded on first use. @pulumi/pulumi requires it when it loads
 * (runtime/closure/codePaths.js) and uses it only to compute a function's code paths
 * (`new arborist.Arborist(...)`), which the suite never does: about 500 modules per registry.
 * Getters, not a Proxy: the export is a class, and __importStar copies a function's keys.
 */
import * as path from "node:path";

const REAL = path.join(__dirname, "..", "..", "..", "node_modules", "@npmcli", "arborist");
let real: Record<string, unknown> | undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = (): Record<string, unknown> => (real ??= require(REAL) as Record<string, unknown>);

// What @npmcli/arborist's lib/index.js exports; `default` is the module, as __importStar gives it.
for (const name of ["Arborist", "Node", "Link", "Edge", "Shrinkwrap", "default"]) {
  Object.defineProperty(exports, name, {
    enumerable: true,
    get: () => (name === "default" ? load() : load()[name]),
  });
}
