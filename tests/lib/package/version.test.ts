import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { InputError } from "../../../lib/core/errors";
import { git } from "../../support/git";
import {
  Bump,
  classifyCommit,
  computeVersion,
  highestBump,
  readAppHistory,
  releaseOfTag,
  resolveApplicationVersion,
  withOneHistoryRead,
} from "../../../lib/package/version";

// lib/package/version spawns git through this object's execFile: spy on it, not on an import's copy.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const childProcess = require("node:child_process") as typeof import("node:child_process");

/** Runs `fn`; answers its result and the git command lines it ran. */
async function gitRuns<T>(fn: () => Promise<T>): Promise<{ result: T; runs: string[] }> {
  const spy = jest.spyOn(childProcess, "execFile");
  try {
    const result = await fn();
    const runs = spy.mock.calls
      .filter(([file]) => file === "git")
      .map(([, args]) => (args as string[]).join(" "));
    return { result, runs };
  } finally {
    spy.mockRestore();
  }
}

test.each([
  ["feat: add a preset", "feat", false, "minor"],
  ["feat(transcode): add a preset", "feat", false, "minor"],
  ["FEAT: types are case-insensitive", "feat", false, "minor"],
  ["fix: handle spaces in paths", "fix", false, "patch"],
  ["perf: faster start", "perf", false, "patch"],
  ["chore: bump ffmpeg", "chore", false, "patch"],
  ["docs(readme): typo", "docs", false, "patch"],
  ["feat!: drop the old wrapper", "feat", true, "major"],
  ["fix(api)!: rename the output flag", "fix", true, "major"],
  [
    "refactor: split\n\nBREAKING CHANGE: transcode.sh takes the output first",
    "refactor",
    true,
    "major",
  ],
  ["feat: x\n\nBody.\n\nBREAKING-CHANGE: synonym", "feat", true, "major"],
  // Only the upper-case token counts (Conventional Commits 1.0.0, item 15).
  ["feat: x\n\nbreaking change: lower case", "feat", false, "minor"],
  // Not a footer: the token must start a line.
  ["fix: mention BREAKING CHANGE: inline", "fix", false, "patch"],
  // Not conventional: still a change to what ships, so a patch.
  ["Update ffmpeg", null, false, "patch"],
  ["feat:missing space", null, false, "patch"],
  ['Revert "feat: add a preset"', null, false, "patch"],
  ["BREAKING CHANGE: only a header", null, false, "patch"],
])("classifyCommit(%j) -> type %j, breaking %j, %s", (message, type, breaking, bump) => {
  expect(classifyCommit(message)).toEqual({ type, breaking, bump });
});

test.each([
  [[], null],
  [["patch"], "patch"],
  [["patch", "minor", "patch"], "minor"],
  [["minor", "major", "patch"], "major"],
] as Array<[Bump[], Bump | null]>)("highestBump(%j) is %j", (bumps, expected) => {
  expect(highestBump(bumps)).toBe(expected);
});

test.each([
  ["app-v1.2.3", "1.2.3"],
  ["app-v10.0.0", "10.0.0"],
  ["app-v1.2.3-rc.1", null],
  ["app-v1.2.3+build", null],
  ["app-v01.2.3", null],
  ["app-v1.2", null],
  ["v1.2.3", null],
  ["app-vnext", null],
])("releaseOfTag(%j) is %j", (tag, release) => {
  expect(releaseOfTag(tag)).toBe(release);
});

test("releaseOfTag takes another prefix", () => {
  expect(releaseOfTag("v1.2.3", "v")).toBe("1.2.3");
});

test.each([
  // No release yet: pre-releases of 1.0.0, one per commit.
  [null, [], "1.0.0-rc.0"],
  [null, ["feat: a", "fix: b"], "1.0.0-rc.2"],
  // Nothing since the tag: the tag's version (an unchanged re-release).
  ["1.2.3", [], "1.2.3"],
  ["1.2.3", ["fix: a"], "1.2.4-rc.1"],
  ["1.2.3", ["docs: a", "chore: b"], "1.2.4-rc.2"],
  ["1.2.3", ["fix: a", "feat: b", "fix: c"], "1.3.0-rc.3"],
  ["1.2.3", ["feat: a", "fix!: b"], "2.0.0-rc.2"],
  ["0.9.1", ["feat: a\n\nBREAKING CHANGE: x"], "1.0.0-rc.1"],
  ["1.2.3", ["Update binaries"], "1.2.4-rc.1"],
])("computeVersion(%j, %j) is %j", (release, messages, version) => {
  expect(computeVersion(release, messages)).toBe(version);
});

describe("with a real git repository", () => {
  let tmp: string;
  let repo: string;
  let app: string;
  let n = 0;
  /** Commits a change to `file` (relative to the repo) with `message`. */
  const commit = (file: string, message: string) => {
    const abs = path.join(repo, file);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, `change ${++n}\n`);
    git(repo, "add", "-A");
    git(repo, "commit", "-q", "-m", message);
  };

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-version-"));
    repo = path.join(tmp, "repo");
    app = path.join(repo, "hpc-application");
    fs.mkdirSync(repo);
    git(repo, "init", "-q", "-b", "main");
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test("counts only commits touching the folder since the highest release tag", async () => {
    commit("hpc-application/bin/a.sh", "feat: first wrapper");
    commit("README.md", "docs: outside the folder");
    expect(await resolveApplicationVersion({ folder: app })).toEqual({
      version: "1.0.0-rc.1",
      source: "git",
      tag: null,
      commits: 1,
      dirty: false,
    });

    git(repo, "tag", "app-v1.0.0");
    git(repo, "tag", "v9.9.9"); // the tool's own tags are ignored
    git(repo, "tag", "app-v2.0.0-rc.1"); // pre-release tags are not releases
    expect((await resolveApplicationVersion({ folder: app })).version).toBe("1.0.0");

    commit("hpc-application/bin/a.sh", "fix: quote paths");
    commit("lib/other.ts", "feat!: outside the folder, not counted");
    commit("hpc-application/bin/b.sh", "feat(wrapper): add b");
    expect(await readAppHistory(app)).toEqual({
      tag: "app-v1.0.0",
      release: "1.0.0",
      messages: ["feat(wrapper): add b", "fix: quote paths"],
      dirty: false,
    });
    expect((await resolveApplicationVersion({ folder: app })).version).toBe("1.1.0-rc.2");

    // An older tag placed later does not win over the highest release.
    git(repo, "tag", "app-v0.5.0");
    git(repo, "tag", "app-v1.1.0");
    expect((await resolveApplicationVersion({ folder: app })).version).toBe("1.1.0");

    commit("hpc-application/stage.json", "chore: pin ffmpeg\n\nBREAKING CHANGE: new ffmpeg major");
    expect((await resolveApplicationVersion({ folder: app })).version).toBe("2.0.0-rc.1");
  });

  test("merges are skipped; the merged commits count", async () => {
    commit("hpc-application/a", "feat: a");
    git(repo, "tag", "app-v1.0.0");
    git(repo, "checkout", "-q", "-b", "topic");
    commit("hpc-application/b", "fix: b");
    git(repo, "checkout", "-q", "main");
    commit("other", "chore: c");
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge branch topic", "topic");
    expect((await readAppHistory(app)).messages).toEqual(["fix: b"]);
  });

  test("reports uncommitted changes in the folder, not elsewhere", async () => {
    commit("hpc-application/a", "feat: a");
    fs.writeFileSync(path.join(repo, "outside"), "x");
    expect((await readAppHistory(app)).dirty).toBe(false);
    fs.writeFileSync(path.join(app, "new"), "x");
    expect((await readAppHistory(app)).dirty).toBe(true);
  });

  test("a repository without commits gives the first pre-release", async () => {
    fs.mkdirSync(app);
    expect((await resolveApplicationVersion({ folder: app })).version).toBe("1.0.0-rc.0");
  });

  test("a repository without commits: no tag, no messages, and whether the folder is dirty", async () => {
    fs.mkdirSync(app);
    const { result, runs } = await gitRuns(() => readAppHistory(app));
    expect(result).toEqual({ tag: null, release: null, messages: [], dirty: false });
    // No commit, so no tag lookup and no log.
    expect(runs).toEqual([
      "rev-parse --show-toplevel --is-shallow-repository --verify --quiet HEAD",
      "status --porcelain -- .",
    ]);
    fs.writeFileSync(path.join(app, "new"), "x");
    expect(await readAppHistory(app)).toEqual({
      tag: null,
      release: null,
      messages: [],
      dirty: true,
    });
  });

  test("a history read takes four git processes", async () => {
    commit("hpc-application/a", "feat: a");
    git(repo, "tag", "app-v1.0.0");
    commit("hpc-application/a", "fix: b");
    const { result, runs } = await gitRuns(() => readAppHistory(app));
    expect(result).toEqual({
      tag: "app-v1.0.0",
      release: "1.0.0",
      messages: ["fix: b"],
      dirty: false,
    });
    expect(runs).toEqual([
      "rev-parse --show-toplevel --is-shallow-repository --verify --quiet HEAD",
      "status --porcelain -- .",
      "tag --merged HEAD --list app-v*",
      "log --no-merges -z --format=%B refs/tags/app-v1.0.0..HEAD -- .",
    ]);
  });

  test("withOneHistoryRead reads a folder's history once, however named; outside it, each call reads", async () => {
    commit("hpc-application/a", "feat: a");
    const cwd = process.cwd();
    process.chdir(repo);
    try {
      const { result, runs } = await gitRuns(() =>
        withOneHistoryRead(async () => {
          const first = await resolveApplicationVersion({ folder: app });
          commit("hpc-application/a", "fix: committed while the plan runs");
          // Relative to the working directory, as the program names it: the same folder.
          const again = await resolveApplicationVersion({ folder: "hpc-application" });
          const history = await readAppHistory(path.join(repo, "hpc-application", "."));
          return { first, again, history };
        }),
      );
      expect(runs).toHaveLength(4);
      // One snapshot: the package and the program agree on the version.
      expect(result.first.version).toBe("1.0.0-rc.1");
      expect(result.again).toEqual(result.first);
      expect(result.history.messages).toEqual(["feat: a"]);
      // Another tag prefix or field is another read; a scope ends with its function.
      const other = await gitRuns(() =>
        withOneHistoryRead(async () => {
          await readAppHistory(app);
          await readAppHistory(app, { tagPrefix: "tool-v" });
          await readAppHistory(app, { field: "--version" });
        }),
      );
      expect(other.runs).toHaveLength(12);
      const outside = await gitRuns(async () => {
        await readAppHistory(app);
        return readAppHistory(app);
      });
      expect(outside.runs).toHaveLength(8);
      expect(outside.result.messages).toEqual(["fix: committed while the plan runs", "feat: a"]);
    } finally {
      process.chdir(cwd);
    }
  });

  test("without git installed, asks for the version in config", async () => {
    fs.mkdirSync(app);
    const path0 = process.env.PATH;
    process.env.PATH = path.join(tmp, "no-git-here");
    try {
      await expect(readAppHistory(app)).rejects.toThrow(
        "hpc-batch:batchApplicationVersion (unset) is invalid: must be set: git is not installed, so the version cannot be computed from commits",
      );
    } finally {
      process.env.PATH = path0;
    }
  });

  test("a shallow clone needs its release tag", async () => {
    commit("README.md", "docs: start");
    commit("hpc-application/a", "feat: a");
    git(repo, "tag", "app-v1.0.0");
    commit("hpc-application/a", "fix: b");
    const clone = (depth: number) => {
      const dir = path.join(tmp, `depth${depth}`);
      git(tmp, "clone", "-q", "--depth", String(depth), `file://${repo}`, dir);
      expect(git(dir, "rev-parse", "--is-shallow-repository").trim()).toBe("true");
      return path.join(dir, "hpc-application");
    };
    const err = await resolveApplicationVersion({ folder: clone(1) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toBe(
      "hpc-batch:batchApplicationVersion (unset) is invalid: must be set: the clone is shallow and has no app-v* release tag (fetch full history and tags, e.g. actions/checkout with fetch-depth: 0), so the version cannot be computed from commits",
    );
    // Deep enough to hold the tag: the history since it is complete, so the version is computed.
    expect((await resolveApplicationVersion({ folder: clone(2) })).version).toBe("1.0.1-rc.1");
  });

  test("outside a repository, or with a bad configured version, says which setting to give", async () => {
    const plain = path.join(tmp, "plain");
    fs.mkdirSync(plain);
    const err = await resolveApplicationVersion({ folder: plain, field: "--version" }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(
      /^--version \(unset\) is invalid: must be set: .*plain is not in a git repository \(git: fatal: not a git repository.*\), so the version cannot be computed from commits$/,
    );
    await expect(resolveApplicationVersion({ folder: path.join(tmp, "missing") })).rejects.toThrow(
      `package folder ${JSON.stringify(path.join(tmp, "missing"))} is invalid: must be an existing directory`,
    );
    fs.writeFileSync(path.join(tmp, "a-file"), "x");
    await expect(resolveApplicationVersion({ folder: path.join(tmp, "a-file") })).rejects.toThrow(
      `package folder ${JSON.stringify(path.join(tmp, "a-file"))} is invalid: must be a directory, not a file`,
    );
    await expect(resolveApplicationVersion({ folder: plain, configured: "1.0+b" })).rejects.toThrow(
      `hpc-batch:batchApplicationVersion "1.0+b" is invalid: must be 1 to 64 letters, digits, '-', '_' or '.'`,
    );
    expect(await resolveApplicationVersion({ folder: plain, configured: "2024.05.1" })).toEqual({
      version: "2024.05.1",
      source: "config",
      tag: null,
      commits: 0,
      dirty: false,
    });
  });
});
