import { describeReboot, describeRollout, type Rollout } from "../../../lib/publish/defaultVersion";

const base: Rollout = { applicationId: "ffmpeg", poolId: "p", version: "1.3.0", previous: "1.2.0" };
const node = (id: string, state: string) => ({ id, state, schedulingState: "enabled" });

test.each<[string, Rollout, string | undefined, string]>([
  [
    "no nodes",
    { ...base, nodes: [] },
    "ROLL",
    "default version: 1.3.0 (was 1.2.0). Pool p has no nodes; nodes that join get 1.3.0.",
  ],
  [
    "first default, busy nodes only (nothing to roll)",
    { ...base, previous: undefined, nodes: [node("a", "running")] },
    "ROLL",
    "default version: 1.3.0 (was unset). 1 node in pool p keeps the version it installed until it reboots or is reimaged; nodes that join get 1.3.0.",
  ],
  [
    "idle nodes and a roll command",
    { ...base, nodes: [node("a", "idle"), node("b", "idle")] },
    "ROLL",
    "default version: 1.3.0 (was 1.2.0). 2 nodes in pool p keep 1.2.0 until they reboot or are reimaged; nodes that join get 1.3.0. Roll the 2 idle nodes now: ROLL",
  ],
  [
    "nodes that could not be listed",
    { ...base, nodesError: "HTTP 403: Forbidden" },
    undefined,
    "default version: 1.3.0 (was 1.2.0). Nodes that join pool p, reboot or are reimaged get 1.3.0; its nodes could not be listed (HTTP 403: Forbidden).",
  ],
])("describeRollout: %s", (_, rollout, roll, text) => {
  expect(describeRollout(rollout, roll)).toBe(text);
});

test("describeReboot: none idle, and a refused reboot", () => {
  expect(
    describeReboot(
      {
        rebooted: [],
        busy: [node("a", "running")],
        failed: [{ id: "b", error: "HTTP 409: NodeBeingRebooted: The node is rebooting." }],
      },
      "1.3.0",
    ),
  ).toBe(
    "rebooted no node; left 1 node that is not idle alone (a: running): it gets 1.3.0 when rebooted or reimaged; could not reboot 1 node (b: HTTP 409: NodeBeingRebooted: The node is rebooting.).",
  );
});
