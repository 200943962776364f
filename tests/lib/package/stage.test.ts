import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { InputError } from "../../../lib/core/errors";
import { spawnSync } from "node:child_process";
import {
  missingDeclaredFiles,
  parseStageManifest,
  RACY_NS,
  splitNpmPath,
  stageFolder,
  stageRecordPath,
} from "../../../lib/package/stage";
import { fakeNpmPackage } from "../../support/fakeNpmPackage";

let tmp: string;
let project: string;
let app: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-stage-"));
  project = path.join(tmp, "project");
  app = path.join(project, "hpc-application");
  fakeNpmPackage(project);
  fs.mkdirSync(app, { recursive: true });
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function manifest(files: unknown[]): void {
  fs.writeFileSync(path.join(app, "stage.json"), JSON.stringify({ files }));
}

const mode = (p: string) => fs.statSync(path.join(app, p)).mode & 0o777;

test("copies, then leaves identical files alone, fixes modes and replaces changed files", async () => {
  manifest([
    { from: "@acme/tool/bin/tool", version: "1.2.3", to: "bin/tool", mode: "0755" },
    { from: "@acme/tool/LICENSE", to: "licenses/tool.txt" },
  ]);
  const source = path.join(project, "node_modules", "@acme", "tool", "bin", "tool");
  const first = await stageFolder({ folder: app });
  expect(first).toEqual([
    {
      to: "bin/tool",
      from: "@acme/tool/bin/tool",
      source,
      action: "copied",
      mode: 0o755,
      bytes: 20,
    },
    {
      to: "licenses/tool.txt",
      from: "@acme/tool/LICENSE",
      source: path.join(project, "node_modules", "@acme", "tool", "LICENSE"),
      action: "copied",
      mode: 0o644,
      bytes: 8,
    },
  ]);
  expect(fs.readFileSync(path.join(app, "bin", "tool"), "utf8")).toBe("#!/bin/sh\necho tool\n");
  expect([mode("bin/tool"), mode("licenses/tool.txt")]).toEqual([0o755, 0o644]);

  const mtime = fs.statSync(path.join(app, "bin", "tool")).mtimeMs;
  expect((await stageFolder({ folder: app })).map((s) => s.action)).toEqual([
    "unchanged",
    "unchanged",
  ]);
  expect(fs.statSync(path.join(app, "bin", "tool")).mtimeMs).toBe(mtime);

  fs.chmodSync(path.join(app, "bin", "tool"), 0o644);
  expect((await stageFolder({ folder: app })).map((s) => s.action)).toEqual([
    "mode-set",
    "unchanged",
  ]);
  expect(mode("bin/tool")).toBe(0o755);

  fs.writeFileSync(path.join(app, "bin", "tool"), "#!/bin/sh\necho old\n"); // same size, other bytes
  expect((await stageFolder({ folder: app })).map((s) => s.action)).toEqual([
    "copied",
    "unchanged",
  ]);
  expect(fs.readFileSync(path.join(app, "bin", "tool"), "utf8")).toBe("#!/bin/sh\necho tool\n");
  expect(fs.readdirSync(path.join(app, "bin"))).toEqual(["tool"]); // no temporary file left
});

test("replaces a symlink at the destination instead of writing through it", async () => {
  manifest([{ from: "@acme/tool/bin/tool", to: "bin/tool" }]);
  fs.mkdirSync(path.join(app, "bin"));
  fs.writeFileSync(path.join(tmp, "victim"), "keep");
  fs.symlinkSync(path.join(tmp, "victim"), path.join(app, "bin", "tool"));
  await stageFolder({ folder: app });
  expect(fs.lstatSync(path.join(app, "bin", "tool")).isFile()).toBe(true);
  expect(fs.readFileSync(path.join(tmp, "victim"), "utf8")).toBe("keep");
});

test("no stage.json, or no files, stages nothing", async () => {
  expect(await stageFolder({ folder: app })).toEqual([]);
  manifest([]);
  expect(await stageFolder({ folder: app })).toEqual([]);
});

test("finds node_modules above resolveFrom when the folder is elsewhere", async () => {
  const elsewhere = path.join(tmp, "elsewhere");
  fs.mkdirSync(elsewhere);
  fs.writeFileSync(
    path.join(elsewhere, "stage.json"),
    JSON.stringify({ files: [{ from: "@acme/tool/LICENSE", to: "L" }] }),
  );
  await expect(stageFolder({ folder: elsewhere })).rejects.toThrow("@acme/tool is not installed");
  const staged = await stageFolder({ folder: elsewhere, resolveFrom: [elsewhere, project] });
  expect(staged.map((s) => s.action)).toEqual(["copied"]);
});

test.each([
  [
    "a version that differs from the installed one",
    [{ from: "@acme/tool/bin/tool", version: "2.0.0", to: "bin/tool" }],
    (m: string) =>
      `${m} files[1].version "2.0.0" is invalid: must match the installed @acme/tool (1.2.3): run npm ci, or update stage.json (a change under the package folder, so the package version moves too)`,
  ],
  [
    "a package that is not installed",
    [{ from: "@acme/missing/bin/x", to: "bin/x" }],
    (m: string) =>
      `${m} files[1].from "@acme/missing/bin/x" is invalid: must name a file in an installed npm package (@acme/missing is not installed; run npm ci)`,
  ],
  [
    "a path missing from the package",
    [{ from: "@acme/tool/bin/nope", to: "bin/x" }],
    (m: string) =>
      `${m} files[1].from "@acme/tool/bin/nope" is invalid: must name a file in an installed npm package (${path.join(project, "node_modules", "@acme", "tool", "bin", "nope")} is not a file)`,
  ],
])("refuses %s before copying anything", async (_name, files, message) => {
  // A valid entry first: nothing is copied until every entry checks out.
  manifest([{ from: "@acme/tool/LICENSE", to: "first" }, ...files]);
  const m = path.join(app, "stage.json");
  const err = await stageFolder({ folder: app }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(InputError);
  expect((err as Error).message).toBe(message(m));
  expect(fs.readdirSync(app)).toEqual(["stage.json"]);
});

test("refuses a destination reached through a symlink leading outside", async () => {
  fs.mkdirSync(path.join(tmp, "outside"));
  fs.symlinkSync(path.join(tmp, "outside"), path.join(app, "bin"));
  manifest([{ from: "@acme/tool/bin/tool", to: "bin/tool" }]);
  await expect(stageFolder({ folder: app })).rejects.toThrow(
    `${path.join(app, "stage.json")} files[0].to "bin/tool" is invalid: must lead to a path inside the package folder (a symlink on the way leads outside)`,
  );
  expect(fs.readdirSync(path.join(tmp, "outside"))).toEqual([]);
});

test("refuses a missing package folder, and a file given as one", async () => {
  await expect(stageFolder({ folder: path.join(tmp, "nope") })).rejects.toThrow(
    `package folder ${JSON.stringify(path.join(tmp, "nope"))} is invalid: must be an existing directory`,
  );
  const file = path.join(tmp, "a-file");
  fs.writeFileSync(file, "x");
  await expect(stageFolder({ folder: file, folderField: "--folder" })).rejects.toThrow(
    `--folder ${JSON.stringify(file)} is invalid: must be a directory, not a file`,
  );
});

test.each([
  [
    "not json",
    "{",
    "m \"{\" is invalid: must be JSON (Expected property name or '}' in JSON at position 1",
  ],
  ["an array", "[]", 'm [] is invalid: must be an object like {"files": [...]}'],
  [
    "an unknown key",
    '{"file": []}',
    'm "file" is invalid: must have only the keys "files", "required" and "$comment"',
  ],
  ["files not an array", '{"files": {}}', "m files {} is invalid: must be an array"],
  [
    "an entry not an object",
    '{"files": ["x"]}',
    'm files[0] "x" is invalid: must be an object like {"from": ..., "to": ...}',
  ],
  [
    "a typo in an entry",
    '{"files": [{"form": "a/b", "to": "c"}]}',
    'm files[0] "form" is invalid: must have only the keys "from", "to", "mode" and "version"',
  ],
  [
    "from without a path",
    '{"files": [{"from": "@scope/pkg", "to": "c"}]}',
    "m files[0].from \"@scope/pkg\" is invalid: must be '<npm package>/<path inside it>'",
  ],
  [
    "from with ..",
    '{"files": [{"from": "pkg/../x", "to": "c"}]}',
    "m files[0].from \"pkg/../x\" is invalid: must be '<npm package>/<path inside it>'",
  ],
  [
    "to escaping",
    '{"files": [{"from": "pkg/x", "to": "../x"}]}',
    "m files[0].to \"../x\" is invalid: must be a relative path inside the package folder (no '..', '.', '\\' or empty segments)",
  ],
  [
    "to absolute",
    '{"files": [{"from": "pkg/x", "to": "/x"}]}',
    "m files[0].to \"/x\" is invalid: must be a relative path inside the package folder (no '..', '.', '\\' or empty segments)",
  ],
  [
    "to twice",
    '{"files": [{"from": "pkg/x", "to": "x"}, {"from": "pkg/y", "to": "x"}]}',
    'm files[1].to "x" is invalid: must appear once',
  ],
  [
    "a bad mode",
    '{"files": [{"from": "pkg/x", "to": "x", "mode": 755}]}',
    'm files[0].mode 755 is invalid: must be an octal string such as "0755" or "0644"',
  ],
  [
    "required not an array",
    '{"required": "bin/x"}',
    'm required "bin/x" is invalid: must be an array of paths',
  ],
  [
    "a required path escaping",
    '{"required": ["bin/x", "../y"]}',
    "m required[1] \"../y\" is invalid: must be a relative path inside the package folder (no '..', '.', '\\' or empty segments)",
  ],
  [
    "an empty version",
    '{"files": [{"from": "pkg/x", "to": "x", "version": ""}]}',
    'm files[0].version "" is invalid: must be the npm package\'s exact version, e.g. "4.1.0"',
  ],
])("parseStageManifest refuses %s", (_name, text, message) => {
  expect(() => parseStageManifest(text, "m")).toThrow(message);
});

test("parseStageManifest reads the shipped manifest", () => {
  const text = fs.readFileSync(
    path.resolve(__dirname, "../../../hpc-application/stage.json"),
    "utf8",
  );
  expect(parseStageManifest(text, "m")).toEqual({
    files: [
      {
        from: "@ffmpeg-installer/linux-x64/ffmpeg",
        version: "4.1.0",
        to: "bin/ffmpeg",
        mode: 0o755,
      },
    ],
    required: ["bin/transcode.sh"],
  });
});

test.each([
  ["@ffmpeg-installer/linux-x64/ffmpeg", { pkg: "@ffmpeg-installer/linux-x64", inner: "ffmpeg" }],
  ["lodash/package.json", { pkg: "lodash", inner: "package.json" }],
  ["pkg/a/b", { pkg: "pkg", inner: "a/b" }],
  ["@scope/pkg", null],
  ["pkg", null],
  ["pkg//x", null],
])("splitNpmPath(%j)", (from, expected) => {
  expect(splitNpmPath(from)).toEqual(expected);
});

describe("missingDeclaredFiles", () => {
  const messages = async (files: string[], field?: string) =>
    (
      await missingDeclaredFiles({
        folder: app,
        files: new Set(files),
        resolveFrom: [app],
        folderField: field,
      })
    ).map((e) => e.message);

  test("a staged file missing: installed, so stage it; not installed, so npm ci first", async () => {
    fs.writeFileSync(
      path.join(app, "stage.json"),
      JSON.stringify({
        files: [
          { from: "@acme/tool/bin/tool", to: "bin/tool" },
          { from: "@acme/absent/bin/x", to: "bin/x" },
        ],
        required: ["run.sh"],
      }),
    );
    expect(await messages(["README.md"], "hpc-batch:applicationFolder")).toEqual([
      `hpc-batch:applicationFolder ${JSON.stringify(app)} is invalid: must hold bin/tool, which stage.json copies from @acme/tool/bin/tool: stage it first (npm run stage-app, or hpc-batch stage --folder ${app})`,
      `hpc-batch:applicationFolder ${JSON.stringify(app)} is invalid: must hold bin/x, which stage.json copies from @acme/absent/bin/x, and @acme/absent is not installed: run npm ci (it installs @acme/absent, an optional dependency, on the platforms it supports), then stage it (npm run stage-app, or hpc-batch stage --folder ${app})`,
      `hpc-batch:applicationFolder ${JSON.stringify(app)} is invalid: must hold run.sh, which stage.json lists as required`,
    ]);
    expect(await messages(["bin/tool", "bin/x", "run.sh"])).toEqual([]);
  });

  test("no stage.json declares nothing", async () => {
    expect(await messages([])).toEqual([]);
  });
});

test("a staging copy left by a killed run is removed; a live run's is not", async () => {
  manifest([{ from: "@acme/tool/bin/tool", to: "bin/tool" }]);
  const dead = spawnSync(process.execPath, ["-e", ""]).pid;
  fs.mkdirSync(path.join(app, "bin"));
  fs.writeFileSync(path.join(app, "bin", `.tool.${dead}.staging`), "half");
  const live = `.tool.${process.ppid}.staging`;
  fs.writeFileSync(path.join(app, "bin", live), "another run's");
  await stageFolder({ folder: app });
  expect(fs.readdirSync(path.join(app, "bin")).sort()).toEqual([live, "tool"]);
});

test("a missing folder is named as the caller names it", async () => {
  await expect(
    stageFolder({ folder: "no-app", folderField: "hpc-batch:applicationFolder" }),
  ).rejects.toThrow(
    'hpc-batch:applicationFolder "no-app" is invalid: must be an existing directory',
  );
});

describe("stage records", () => {
  // A clock far past every file's ctime: records are written. Staging itself never waits.
  const LATER = () => 4_000_000_000_000_000_000n;
  // Pulumi's closure serializer and ts-jest leave node:fs/promises itself in place: spy on it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeFsPromises = require("node:fs/promises") as typeof import("node:fs/promises");
  const source = () => path.join(project, "node_modules", "@acme", "tool", "bin", "tool");
  const dest = () => path.join(app, "bin", "tool");
  const recordFile = () => stageRecordPath(path.join(project, "node_modules"), dest());
  const signature = (file: string) => {
    const st = fs.statSync(file, { bigint: true });
    return [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs, file].join(":");
  };

  /** Stages; answers the actions and the files read to compare content. */
  async function stage(now = LATER): Promise<{ actions: string[]; read: string[] }> {
    // Content is compared through sha256File (lib/core/fileDigest), which opens each file.
    const spy = jest.spyOn(nodeFsPromises, "open");
    try {
      const staged = await stageFolder({ folder: app, now });
      const read = spy.mock.calls.map(([p]) => String(p)).filter((p) => p.startsWith(tmp));
      return { actions: staged.map((s) => s.action), read: read.sort() };
    } finally {
      spy.mockRestore();
    }
  }

  /** Gives both files the same whole-second mtime, which utimes can set back exactly. */
  function pinMtimes(): void {
    for (const f of [source(), dest()]) fs.utimesSync(f, 1_700_000_000, 1_700_000_000);
  }

  beforeEach(() => manifest([{ from: "@acme/tool/bin/tool", to: "bin/tool", mode: "0755" }]));

  test("an identical file is compared once, recorded, then taken from the record unread", async () => {
    expect(await stage()).toEqual({ actions: ["copied"], read: [] });
    expect(fs.existsSync(recordFile())).toBe(false);
    expect(await stage()).toEqual({ actions: ["unchanged"], read: [dest(), source()].sort() });
    expect(JSON.parse(fs.readFileSync(recordFile(), "utf8"))).toEqual({
      format: "hpc-batch-stage/1",
      source: signature(source()),
      dest: signature(dest()),
      destPath: dest(),
    });
    expect(path.dirname(recordFile())).toBe(
      path.join(project, "node_modules", ".cache", "hpc-batch", "stage"),
    );
    expect(await stage()).toEqual({ actions: ["unchanged"], read: [] });
    expect(await stage()).toEqual({ actions: ["unchanged"], read: [] });
  });

  test("no record while a ctime is within RACY_NS of the clock (a change could share it)", async () => {
    await stage();
    const ctime = (f: string) => fs.statSync(f, { bigint: true }).ctimeNs;
    const newest = ctime(dest()) > ctime(source()) ? ctime(dest()) : ctime(source());
    expect(await stage(() => newest + RACY_NS)).toEqual({
      actions: ["unchanged"],
      read: [dest(), source()].sort(),
    });
    expect(fs.existsSync(recordFile())).toBe(false);
    expect(await stage(() => newest + RACY_NS + 1n)).toEqual({
      actions: ["unchanged"],
      read: [dest(), source()].sort(),
    });
    expect(fs.existsSync(recordFile())).toBe(true);
    expect((await stage(() => newest + RACY_NS + 1n)).read).toEqual([]);
  });

  test.each([
    ["source", source],
    ["staged file", dest],
  ])(
    "a same-size change to the %s with its mtime set back is still found (ctime)",
    async (_which, changed) => {
      await stage();
      pinMtimes();
      await stage(); // compares, records
      expect(fs.existsSync(recordFile())).toBe(true);
      const before = fs.statSync(changed(), { bigint: true });
      fs.writeFileSync(changed(), "#!/bin/sh\necho TOOL\n"); // same size, other bytes
      fs.utimesSync(changed(), 1_700_000_000, 1_700_000_000);
      const after = fs.statSync(changed(), { bigint: true });
      // Only the ctime tells: same inode, size and mtime to the nanosecond.
      expect([after.ino, after.size, after.mtimeNs]).toEqual([
        before.ino,
        before.size,
        before.mtimeNs,
      ]);
      expect(after.ctimeNs).not.toBe(before.ctimeNs);
      expect(await stage()).toEqual({ actions: ["copied"], read: [dest(), source()].sort() });
      expect(fs.readFileSync(dest(), "utf8")).toBe(fs.readFileSync(source(), "utf8"));
      expect(fs.existsSync(recordFile())).toBe(false);
    },
  );

  test.each([
    ["unreadable", "{"],
    ["of another format", JSON.stringify({ format: "hpc-batch-stage/0" })],
    ["of other files", JSON.stringify({ format: "hpc-batch-stage/1", source: "x", dest: "y" })],
  ])("a record that is %s means comparing; the comparison rewrites it", async (_name, text) => {
    await stage();
    await stage();
    fs.writeFileSync(recordFile(), text);
    expect(await stage()).toEqual({ actions: ["unchanged"], read: [dest(), source()].sort() });
    expect(JSON.parse(fs.readFileSync(recordFile(), "utf8")).dest).toBe(signature(dest()));
    expect((await stage()).read).toEqual([]);
  });

  test("a mode fix drops the record (chmod sets the ctime)", async () => {
    await stage();
    await stage();
    fs.chmodSync(dest(), 0o644);
    expect(await stage()).toEqual({ actions: ["mode-set"], read: [dest(), source()].sort() });
    expect(mode("bin/tool")).toBe(0o755);
    expect(fs.existsSync(recordFile())).toBe(false);
  });

  test("writing a record drops those of staged files that are gone and a killed run's partial", async () => {
    const dir = path.dirname(recordFile());
    fs.mkdirSync(dir, { recursive: true });
    const gone = path.join(dir, `${"a".repeat(32)}.json`);
    fs.writeFileSync(
      gone,
      JSON.stringify({ format: "hpc-batch-stage/1", source: "s", dest: "d", destPath: tmp + "/x" }),
    );
    const kept = path.join(dir, `${"b".repeat(32)}.json`);
    fs.writeFileSync(
      kept,
      JSON.stringify({ format: "hpc-batch-stage/1", source: "s", dest: "d", destPath: source() }),
    );
    const dead = spawnSync(process.execPath, ["-e", ""]).pid;
    fs.writeFileSync(path.join(dir, `${"c".repeat(32)}.json.${dead}.partial`), "{");
    await stage(); // copies: nothing to record
    expect(fs.readdirSync(dir)).toHaveLength(3);
    await stage(); // compares and records
    expect(fs.readdirSync(dir).sort()).toEqual(
      [path.basename(kept), path.basename(recordFile())].sort(),
    );
  });

  test("a record that cannot be written changes nothing but the next run's work", async () => {
    fs.mkdirSync(path.join(project, "node_modules", ".cache", "hpc-batch"), { recursive: true });
    fs.writeFileSync(path.dirname(recordFile()), "a file where the record folder goes");
    await stage();
    expect(await stage()).toEqual({ actions: ["unchanged"], read: [dest(), source()].sort() });
    expect(await stage()).toEqual({ actions: ["unchanged"], read: [dest(), source()].sort() });
  });
});
