import { rolloutText } from "../../../lib/plan/document";

const APP =
  "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Batch/batchAccounts/ba/applications/ffmpeg";
const pkg = (inputs: Record<string, unknown>) => ({
  type: "pulumi-nodejs:dynamic/batch:ApplicationPackageVersion",
  name: "app-package-version",
  inputs: {
    applicationId: "ffmpeg",
    version: "1.2.0",
    setDefault: true,
    promote: "on-publish",
    ...inputs,
  },
});
const pool = (refs: unknown[]) => ({
  type: "azure-native:batch:Pool",
  name: "pool",
  inputs: { poolName: "render", applicationPackages: refs },
});

test.each<[string, { type: string; name: string; inputs: Record<string, unknown> }[], string[]]>([
  [
    "on-publish, pool on the default version",
    [pkg({}), pool([{ id: APP }])],
    [
      "ffmpeg 1.2.0 becomes the default version once active",
      "pool render references ffmpeg without a version: its nodes install the default when they join, reboot or are reimaged; running nodes keep theirs until then (`hpc-batch set-default --stack <stack> --version <version> --reboot-idle-nodes` rolls the idle ones); the pool itself is not changed",
    ],
  ],
  [
    "after-canary",
    [pkg({ promote: "after-canary" })],
    [
      "ffmpeg 1.2.0 becomes the default version once `hpc-batch verify --promote` has run a smoke task that references it on the pool (the first release: once active)",
    ],
  ],
  [
    "never the default, pool pinning a version",
    [pkg({ setDefault: false }), pool([{ id: APP, version: "1.1.0" }])],
    [
      "ffmpeg 1.2.0 is published and active, never made the default (setDefault false)",
      "pool render pins ffmpeg 1.1.0: a new version changes the pool (PATCH of its package references), and its nodes get it when they join, reboot or are reimaged",
    ],
  ],
  [
    "a pool of another application",
    [pkg({}), pool([{ id: APP.replace("ffmpeg", "blender") }])],
    ["ffmpeg 1.2.0 becomes the default version once active"],
  ],
  ["no package", [pool([{ id: APP }])], []],
])("%s", (_name, registrations, expected) => {
  expect(rolloutText(registrations)).toEqual(expected);
});
