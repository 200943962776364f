import {
  chooseVersionsToDelete,
  validateRetainVersions,
  type RetentionInput,
  type VersionRecord,
} from "../../../lib/core/retention";

/** Active versions activated in the order given (the last is the newest). */
const activated = (...names: string[]): VersionRecord[] =>
  names.map((name, i) => ({
    name,
    state: "Active",
    lastActivationTime: new Date(Date.UTC(2025, 0, 1, 0, i)).toISOString(),
  }));
const pending = (name: string): VersionRecord => ({ name, state: "Pending" });

describe("chooseVersionsToDelete", () => {
  test.each<[string, RetentionInput, string[]]>([
    ["fewer versions than N: nothing", { versions: activated("1.0.0", "1.1.0"), keep: 5 }, []],
    ["exactly N: nothing", { versions: activated("1", "2", "3", "4", "5"), keep: 5 }, []],
    [
      "keeps the newest N, deletes the rest oldest first",
      { versions: activated("1", "2", "3", "4", "5", "6", "7"), keep: 5 },
      ["1", "2"],
    ],
    [
      "the default version survives outside the newest N",
      { versions: activated("1", "2", "3", "4"), keep: 2, defaultVersion: "1" },
      ["2"],
    ],
    [
      "the default matches case-insensitively",
      { versions: activated("v1-RC", "v2", "v3"), keep: 1, defaultVersion: "V1-rc" },
      ["v2"],
    ],
    [
      "versions pools reference survive",
      { versions: activated("1", "2", "3", "4"), keep: 1, referenced: ["2", "1"] },
      ["3"],
    ],
    [
      "a default inside the newest N takes one of the N slots",
      { versions: activated("1", "2", "3"), keep: 2, defaultVersion: "3" },
      ["1"],
    ],
    [
      "pending versions are never deleted nor counted",
      { versions: [pending("9"), ...activated("1", "2", "3"), pending("0")], keep: 2 },
      ["1"],
    ],
    [
      "the version just published counts first even when its activation is older",
      { versions: activated("2.0.0", "1.0.0", "3.0.0"), keep: 2, current: "2.0.0" },
      ["1.0.0"],
    ],
    [
      "keep 1 with current: only current (and protected) remain",
      { versions: activated("1", "2", "3"), keep: 1, current: "3", defaultVersion: "1" },
      ["2"],
    ],
    [
      "equal activation times fall back to natural version order (2.10 is newer than 2.9)",
      {
        versions: ["2.9", "2.10", "2.8"].map((name) => ({
          name,
          state: "Active",
          lastActivationTime: "2025-01-01T00:00:00Z",
        })),
        keep: 1,
      },
      ["2.8", "2.9"],
    ],
    [
      "40 kept of 41",
      {
        versions: activated(...Array.from({ length: 41 }, (_, i) => `1.0.${i}`)),
        keep: 40,
      },
      ["1.0.0"],
    ],
  ])("%s", (_title, input, expected) => {
    expect(chooseVersionsToDelete(input).delete).toEqual(expected);
  });

  test("says why each kept version is kept", () => {
    const decision = chooseVersionsToDelete({
      versions: [...activated("1", "2", "3", "4", "5"), pending("6")],
      keep: 2,
      current: "5",
      defaultVersion: "1",
      referenced: ["2"],
    });
    expect(decision).toEqual({
      delete: ["3"],
      kept: [
        { name: "1", reason: "default" },
        { name: "2", reason: "referenced" },
        { name: "4", reason: "newest" },
        { name: "5", reason: "current" },
        { name: "6", reason: "pending" },
      ],
    });
  });
});

describe("validateRetainVersions", () => {
  test.each([1, 5, 40])("accepts %s", (n) => {
    expect(validateRetainVersions("--retain", n)).toBe(n);
  });

  test.each<[unknown, string]>([
    [0, "0"],
    [41, "41"],
    [2.5, "2.5"],
    ["5", '"5"'],
    [undefined, "(unset)"],
  ])("refuses %p", (value, shown) => {
    expect(() => validateRetainVersions("--retain", value)).toThrow(
      `--retain ${shown} is invalid: must be a whole number from 1 to 40 (Batch allows 40 versions per application)`,
    );
  });

  // Stack config values may arrive as text: digits count, the message shows the text as given.
  test.each<[unknown, number]>([
    ["5", 5],
    [40, 40],
  ])("fromText accepts %p", (value, n) => {
    expect(validateRetainVersions("hpc-batch:retainVersions", value, { fromText: true })).toBe(n);
  });

  test.each<[unknown, string]>([
    ["0", '"0"'],
    ["41", '"41"'],
    ["2.5", '"2.5"'],
    [" 5", '" 5"'],
    ["five", '"five"'],
  ])("fromText refuses %p", (value, shown) => {
    expect(() =>
      validateRetainVersions("hpc-batch:retainVersions", value, { fromText: true }),
    ).toThrow(
      `hpc-batch:retainVersions ${shown} is invalid: must be a whole number from 1 to 40 (Batch allows 40 versions per application)`,
    );
  });
});
