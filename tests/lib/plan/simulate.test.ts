import * as pulumi from "@pulumi/pulumi";
import { simulate } from "../../../lib/plan/simulate";

const sim = simulate({
  project: "p",
  stack: "s",
  config: { "p:obj": { a: 1 }, "p:plain": "x" },
  state: ({ type }) => (type === "test:index:Thing" ? { computed: "yes" } : {}),
});

class Thing extends pulumi.CustomResource {
  declare readonly computed: pulumi.Output<string>;
  constructor(name: string, props: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
    super("test:index:Thing", name, { ...props, computed: undefined }, opts);
  }
}

class Comp extends pulumi.ComponentResource {
  readonly childComputed: pulumi.Output<string>;
  constructor(name: string, opts?: pulumi.ComponentResourceOptions) {
    super("test:index:Comp", name, {}, opts);
    const first = new Thing(
      `${name}-a`,
      { size: 1, key: pulumi.secret("s3cret"), nested: { list: [1, pulumi.secret("deep")] } },
      { parent: this },
    );
    const t = new Thing(
      `${name}-b`,
      { from: first.computed },
      { parent: this, replaceOnChanges: ["size"], dependsOn: [first] },
    );
    this.childComputed = t.computed;
    this.registerOutputs({ childComputed: t.computed });
  }
}

test("records types, names, parents, inputs, secrets, options, component outputs and config", async () => {
  const c = new Comp("c");
  await sim.settle();
  expect(new pulumi.Config("p").requireObject("obj")).toEqual({ a: 1 });
  expect(new pulumi.Config("p").require("plain")).toBe("x");
  const comp = sim.find("test:index:Comp", "c");
  const a = sim.find("test:index:Thing", "c-a");
  const b = sim.find("test:index:Thing", "c-b");
  expect(comp.custom).toBe(false);
  expect(a.parent).toBe(comp.urn);
  expect(a.urn).toBe("urn:pulumi:s::p::test:index:Comp$test:index:Thing::c-a");
  expect(a.inputs).toEqual({ size: 1, key: "s3cret", nested: { list: [1, "deep"] } });
  expect(a.secretInputs).toEqual(["key", "nested"]);
  expect(b.inputs).toEqual({ from: "yes" });
  expect(b.options.replaceOnChanges).toEqual(["size"]);
  expect(b.options.dependsOn).toEqual([a.urn]);
  expect(comp.outputs).toEqual({ childComputed: "yes" });
  expect(() => sim.find("test:index:Thing", "nope")).toThrow(
    'no test:index:Thing named "nope" was registered; registered: test:index:Comp/c, test:index:Thing/c-a, test:index:Thing/c-b',
  );
  await new Promise<string>((r) => c.childComputed.apply(r));
});

test("serializeDynamicProviders: false stores a placeholder instead of the provider's code", async () => {
  await jest.isolateModulesAsync(async () => {
    const { simulate: isolatedSimulate, UNSERIALIZED_PROVIDER } =
      await import("../../../lib/plan/simulate");
    const p = await import("@pulumi/pulumi");
    const s = isolatedSimulate({ project: "p", stack: "s", serializeDynamicProviders: false });
    const provider: import("@pulumi/pulumi").dynamic.ResourceProvider = {
      create: async () => ({ id: "x", outs: {} }),
    };
    class Dyn extends p.dynamic.Resource {}
    new Dyn(provider, "dyn", { a: 1 });
    await s.settle();
    expect(s.find("pulumi-nodejs:dynamic:Resource", "dyn").inputs).toEqual({
      a: 1,
      __provider: UNSERIALIZED_PROVIDER,
    });
  });
});
