/**
 * `typescript` as the suite's module registries see it (jest.config.js moduleNameMapper): the
 * real compiler, loaded on first use. @pulumi/pulumi requires it when it loads
 * (runtime/closure/parseFunction.js through typescript-shim.js) and uses it only to serialize a
 * function (a dynamic provider with serializeDynamicProviders): 9 MB of JavaScript evaluated
 * again in every test file and every fresh registry. ts-jest's own TypeScript is outside the
 * registries and unaffected. Every operation on the module is forwarded to the real one.
 */
import * as path from "node:path";

const REAL = path.join(__dirname, "..", "..", "..", "node_modules", "typescript");
let real: object | undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = (): object => (real ??= require(REAL) as object);

module.exports = new Proxy(
  {},
  {
    get: (_, key) => Reflect.get(load(), key),
    set: (_, key, value) => Reflect.set(load(), key, value),
    has: (_, key) => Reflect.has(load(), key),
    ownKeys: () => Reflect.ownKeys(load()),
    // The real properties are getters that cannot be reconfigured; the (empty) target may only
    // report configurable ones.
    getOwnPropertyDescriptor: (_, key) => {
      const d = Reflect.getOwnPropertyDescriptor(load(), key);
      return d && { ...d, configurable: true };
    },
  },
);
