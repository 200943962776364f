/**
 * An in-process stand-in for the Pulumi engine: it runs a real Pulumi program with mocks and
 * records every registration with its parent and resource options, which plain
 * `pulumi.runtime.setMocks` does not expose. Used by the unit tests and by `hpc-batch plan`.
 *
 * It relies on `@pulumi/pulumi/runtime/mocks` and `runtime/settings`, the same internals that
 * `pulumi.runtime.setMocks` is built from (see node_modules/@pulumi/pulumi/runtime/mocks.js).
 */
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";

// Internal runtime functions (marked @internal, so absent from the .d.ts files).
/* eslint-disable @typescript-eslint/no-require-imports */
const settings = require("@pulumi/pulumi/runtime/settings") as {
  setMockOptions(monitor: unknown, project?: string, stack?: string, preview?: boolean): void;
  waitForRPCs(): Promise<void>;
};
const state = require("@pulumi/pulumi/runtime/state") as {
  getStore(): Record<string, unknown>;
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** The resource options a registration carried, as the engine sees them. */
export interface RecordedOptions {
  /** Provider reference (`urn::id`), when one was set explicitly. */
  provider?: string;
  dependsOn: string[];
  replaceOnChanges: string[];
  ignoreChanges: string[];
  additionalSecretOutputs: string[];
  deleteBeforeReplace: boolean;
  protect?: boolean;
  retainOnDelete?: boolean;
}

export interface Registration {
  type: string;
  name: string;
  urn: string;
  /** URN of the parent, or undefined for a resource directly under the stack. */
  parent?: string;
  /** True for a custom (provider-managed) resource, false for a component. */
  custom: boolean;
  /** Inputs as the provider would receive them (secrets unwrapped, unknowns as undefined). */
  inputs: Record<string, unknown>;
  /** Property names among `inputs` that were marked secret. */
  secretInputs: string[];
  /** Outputs a component passed to registerOutputs (set once it did). */
  outputs?: Record<string, unknown>;
  options: RecordedOptions;
}

export interface Invocation {
  token: string;
  inputs: Record<string, unknown>;
}

export interface SimulationOptions {
  project: string;
  stack: string;
  /** Runs as a preview (unknowns stay unknown). Defaults to false. */
  preview?: boolean;
  /** Stack config as full keys (`ns:key`); objects are passed as JSON as the Pulumi CLI does. */
  config?: Record<string, unknown>;
  /** Config keys whose values are secrets. */
  secretKeys?: string[];
  /**
   * Provider-computed state for a custom resource, merged over its inputs. Defaults to none:
   * a resource's outputs are then exactly its inputs.
   */
  state?: (reg: {
    type: string;
    name: string;
    inputs: Record<string, unknown>;
  }) => Record<string, unknown>;
  /** Physical id for a custom resource. Defaults to `<name>-id`. */
  id?: (reg: { type: string; name: string; inputs: Record<string, unknown> }) => string;
  /** Answers an invoke; it should throw for any token it does not expect. */
  call?: (inv: Invocation) => Record<string, unknown>;
  /**
   * Serialize dynamic providers as `pulumi up` does (proves they serialize). Defaults to true.
   * `plan` turns it off: the text is never used there, and the serializer cannot tell modules
   * apart inside a jest module registry.
   */
  serializeDynamicProviders?: boolean;
}

/** What `__provider` holds when dynamic providers are not serialized. */
export const UNSERIALIZED_PROVIDER = "(dynamic provider: not serialized by the simulated engine)";

export interface Simulation {
  registrations: Registration[];
  invocations: Invocation[];
  /** The registration with this type and logical name; throws, listing what exists, if absent. */
  find(type: string, name: string): Registration;
  /** Every registration of this type, in registration order. */
  ofType(type: string): Registration[];
  /** Resolves once every registration and registerOutputs the program started has finished. */
  settle(): Promise<void>;
}

const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** Strips Pulumi's wire markers: secrets become their values, unknowns undefined. */
function plain(v: unknown, secrets?: Set<string>, key?: string): unknown {
  if (Array.isArray(v)) return v.map((x) => plain(x, secrets, key));
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (o[pulumi.runtime.specialSigKey] === SECRET_SIG) {
      if (secrets && key) secrets.add(key);
      return plain(o.value, secrets, key);
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) out[k] = plain(x, secrets, key);
    return out;
  }
  if (v === pulumi.runtime.unknownValue) return undefined;
  return v;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function deserialize(struct: any, secrets?: Set<string>): Record<string, unknown> {
  if (!struct) return {};
  const raw = pulumi.runtime.deserializeProperties(struct, true) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw ?? {})) {
    const x = plain(v, secrets, k);
    if (x !== undefined) out[k] = x;
  }
  return out;
}

/** The engine's monitor, extended to record parents and options before delegating to mocks. */
class RecordingMonitor extends MockMonitor {
  constructor(
    mocks: pulumi.runtime.Mocks,
    private readonly regs: Registration[],
    private readonly pending: Set<Promise<void>>,
  ) {
    super(mocks);
  }

  /** The parent's effective retainOnDelete (false without a parent). */
  private inherited(parent: string | undefined): boolean {
    const from = parent === undefined ? undefined : this.regs.find((r) => r.urn === parent);
    return from?.options.retainOnDelete ?? false;
  }

  // The proto request type is internal to @pulumi/pulumi; only its getters are used.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override registerResource(req: any, callback: (err: any, res: any) => void): Promise<void> {
    let done!: () => void;
    const p = new Promise<void>((r) => (done = r));
    this.pending.add(p);
    const secretInputs = new Set<string>();
    const parent: string | undefined = req.getParent() || undefined;
    const reg: Registration = {
      type: req.getType(),
      name: req.getName(),
      urn: "",
      parent,
      custom: req.getCustom(),
      inputs: deserialize(req.getObject(), secretInputs),
      secretInputs: [],
      options: {
        provider: req.getProvider() || undefined,
        dependsOn: req.getDependenciesList(),
        replaceOnChanges: req.getReplaceonchangesList(),
        ignoreChanges: req.getIgnorechangesList(),
        additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
        deleteBeforeReplace: req.getDeletebeforereplace(),
        protect: req.getProtect(),
        // Unset, the engine takes it from the parent (pulumi/pulumi pkg/resource/deploy/
        // source_eval.go, inheritFromParent); the Node SDK passes down only protect and providers.
        retainOnDelete: req.hasRetainondelete() ? req.getRetainondelete() : this.inherited(parent),
      },
    };
    reg.secretInputs = [...secretInputs].sort();
    this.regs.push(reg);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return super.registerResource(req, (err: any, res: any) => {
      if (res) reg.urn = res.getUrn();
      try {
        callback(err, res);
      } finally {
        done();
        this.pending.delete(p);
      }
    });
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override registerResourceOutputs(req: any, callback: (err: any, res: any) => void): void {
    const reg = this.regs.find((r) => r.urn === req.getUrn());
    if (reg) reg.outputs = deserialize(req.getOutputs());
    super.registerResourceOutputs(req, callback);
  }
}

/**
 * Installs the simulated engine for the current module registry. Import the Pulumi program
 * (or construct components) only after calling this, then `await sim.settle()`.
 */
export function simulate(opts: SimulationOptions): Simulation {
  const registrations: Registration[] = [];
  const invocations: Invocation[] = [];
  const pending = new Set<Promise<void>>();
  const mocks: pulumi.runtime.Mocks = {
    newResource(args) {
      const inputs = plain(args.inputs) as Record<string, unknown>;
      const reg = { type: args.type, name: args.name, inputs };
      if (!args.custom) return { id: undefined, state: {} };
      return {
        id: opts.id ? opts.id(reg) : `${args.name}-id`,
        state: { ...args.inputs, ...(opts.state ? opts.state(reg) : {}) },
      };
    },
    call(args) {
      const inv = { token: args.token, inputs: plain(args.inputs) as Record<string, unknown> };
      invocations.push(inv);
      if (!opts.call)
        throw new Error(`unexpected invoke ${args.token}: this simulation answers none`);
      return opts.call(inv);
    },
  };
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.config ?? {})) {
    config[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
  pulumi.runtime.setAllConfig(config, opts.secretKeys);
  settings.setMockOptions(
    new RecordingMonitor(mocks, registrations, pending),
    opts.project,
    opts.stack,
    opts.preview ?? false,
  );
  if (opts.serializeDynamicProviders === false) {
    // dynamic.Resource loads this module on each registration and calls its export. Under
    // `hpc-batch plan` it is lib/plan/deferClosure's stand-in, so the real serializer (and TypeScript,
    // which it loads) never loads.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const closure = require("@pulumi/pulumi/runtime/closure/serializeClosure") as {
      serializeFunction: (...args: unknown[]) => Promise<unknown>;
    };
    closure.serializeFunction = async () => ({
      text: UNSERIALIZED_PROVIDER,
      exportName: "handler",
      containsSecrets: false,
    });
  }
  // The same feature flags pulumi.runtime.setMocks enables.
  const store = state.getStore();
  store.supportsSecrets = true;
  store.supportsResourceReferences = true;
  store.supportsOutputValues = false;
  store.supportsDeletedWith = true;
  store.supportsAliasSpecs = true;

  return {
    registrations,
    invocations,
    find(type, name) {
      const r = registrations.find((x) => x.type === type && x.name === name);
      if (!r) {
        const have = registrations.map((x) => `${x.type}/${x.name}`).join(", ");
        throw new Error(`no ${type} named "${name}" was registered; registered: ${have || "none"}`);
      }
      return r;
    },
    ofType(type) {
      return registrations.filter((x) => x.type === type);
    },
    async settle() {
      // The runtime chains every RPC it starts; a child's registration starts only once its
      // parent's has resolved, so wait until both the chain and our own callbacks are idle.
      do {
        await settings.waitForRPCs();
        await Promise.all([...pending]);
        await new Promise((r) => setImmediate(r));
      } while (pending.size > 0);
    },
  };
}
