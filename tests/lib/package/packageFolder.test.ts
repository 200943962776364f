import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { InputError } from "../../../lib/core/errors";
import {
  DEFAULT_PACKAGE_LIMITS,
  DIRECTORY_MODE,
  EXECUTABLE_MODE,
  FILE_MODE,
  PackageLimits,
  pathRule,
  resolveLimits,
  scanPackageFolder,
} from "../../../lib/package/packageFolder";

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-pkgfolder-"));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A folder `app` under the test's temp dir with one ordinary file, then `extra` applied. */
function folder(extra: (dir: string) => void = () => undefined): string {
  const dir = path.join(tmp, "app");
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, "ok.txt"), "ok\n");
  extra(dir);
  return dir;
}

const entryField = (dir: string) => `path in package folder ${JSON.stringify(dir)}`;

interface Refusal {
  name: string;
  setup: () => string;
  limits?: Partial<PackageLimits>;
  message: (dir: string) => string;
}

const refusals: Refusal[] = [
  {
    name: "missing folder",
    setup: () => path.join(tmp, "nope"),
    message: (d) => `package folder ${JSON.stringify(d)} is invalid: must be an existing directory`,
  },
  {
    name: "a file, not a folder",
    setup: () => {
      fs.writeFileSync(path.join(tmp, "file"), "x");
      return path.join(tmp, "file");
    },
    message: (d) =>
      `package folder ${JSON.stringify(d)} is invalid: must be a directory, not a file`,
  },
  {
    name: "empty folder",
    setup: () => {
      fs.mkdirSync(path.join(tmp, "empty"));
      return path.join(tmp, "empty");
    },
    message: (d) =>
      `package folder ${JSON.stringify(d)} is invalid: must contain at least one file`,
  },
  {
    name: "only empty directories",
    setup: () => {
      fs.mkdirSync(path.join(tmp, "dirs", "a", "b"), { recursive: true });
      return path.join(tmp, "dirs");
    },
    message: (d) =>
      `package folder ${JSON.stringify(d)} is invalid: must contain at least one file`,
  },
  {
    name: "symlink to an absolute path outside",
    setup: () => folder((d) => fs.symlinkSync("/etc/hostname", path.join(d, "host"))),
    message: (d) =>
      `${entryField(d)} "host" is invalid: must be a symlink to a file inside the folder (it points to "/etc/hostname", outside)`,
  },
  {
    name: "symlink to a relative path outside",
    setup: () => {
      fs.writeFileSync(path.join(tmp, "secret"), "s");
      return folder((d) => {
        fs.mkdirSync(path.join(d, "bin"));
        fs.symlinkSync("../../secret", path.join(d, "bin", "s"));
      });
    },
    message: (d) =>
      `${entryField(d)} "bin/s" is invalid: must be a symlink to a file inside the folder (it points to "../../secret", outside)`,
  },
  {
    name: "dangling symlink",
    setup: () => folder((d) => fs.symlinkSync("missing", path.join(d, "gone"))),
    message: (d) =>
      `${entryField(d)} "gone" is invalid: must be a symlink to a file inside the folder (it points to "missing": it is dangling)`,
  },
  {
    name: "symlink loop",
    setup: () => folder((d) => fs.symlinkSync("loop", path.join(d, "loop"))),
    message: (d) =>
      `${entryField(d)} "loop" is invalid: must be a symlink to a file inside the folder (it points to "loop": it loops)`,
  },
  {
    name: "symlink to a directory inside",
    setup: () =>
      folder((d) => {
        fs.mkdirSync(path.join(d, "lib"));
        fs.writeFileSync(path.join(d, "lib", "x"), "x");
        fs.symlinkSync("lib", path.join(d, "lib2"));
      }),
    message: (d) =>
      `${entryField(d)} "lib2" is invalid: must be a symlink to a file, not to a directory (it points to "lib"); copy the directory instead`,
  },
  {
    name: "symlink to the folder itself",
    setup: () => folder((d) => fs.symlinkSync(".", path.join(d, "self"))),
    message: (d) =>
      `${entryField(d)} "self" is invalid: must be a symlink to a file, not to a directory (it points to "."); copy the directory instead`,
  },
  {
    name: "name that would escape on Windows extraction",
    setup: () => folder((d) => fs.writeFileSync(path.join(d, "..\\evil"), "x")),
    message: (d) =>
      `${entryField(d)} "..\\\\evil" is invalid: must not contain '\\' (a path separator on Windows, so the name could escape the extraction folder)`,
  },
  {
    name: "control character in a name",
    setup: () => folder((d) => fs.writeFileSync(path.join(d, "bad\nname"), "x")),
    message: (d) => `${entryField(d)} "bad\\nname" is invalid: must not contain control characters`,
  },
  {
    name: "name that is not UTF-8",
    setup: () =>
      folder((d) =>
        fs.writeFileSync(Buffer.concat([Buffer.from(`${d}/`), Buffer.from([0x66, 0xff])]), "x"),
      ),
    message: (d) =>
      `${entryField(d)} "f\u00ff" is invalid: must be valid UTF-8 (zip names are stored as UTF-8)`,
  },
  {
    name: "path longer than maxPathBytes",
    setup: () => folder((d) => fs.writeFileSync(path.join(d, "a".repeat(20)), "x")),
    limits: { maxPathBytes: 16 },
    message: (d) =>
      `${entryField(d)} "${"a".repeat(20)}" is invalid: must be at most 16 bytes long (it is 20)`,
  },
  {
    name: "more entries than maxEntries",
    setup: () =>
      folder((d) => {
        fs.mkdirSync(path.join(d, "bin"));
        fs.writeFileSync(path.join(d, "bin", "x"), "x");
      }),
    limits: { maxEntries: 2 },
    message: (d) =>
      `package folder ${JSON.stringify(d)} is invalid: must hold at most 2 files and directories (limits.maxEntries)`,
  },
  {
    name: "more bytes than maxTotalBytes",
    setup: () => folder((d) => fs.writeFileSync(path.join(d, "big"), Buffer.alloc(10))),
    limits: { maxTotalBytes: 12 },
    message: (d) =>
      `package folder ${JSON.stringify(d)} is invalid: must hold at most 12 bytes of files (limits.maxTotalBytes); it holds more`,
  },
  {
    name: "fifo",
    setup: () => folder((d) => execFileSync("mkfifo", [path.join(d, "pipe")])),
    message: (d) =>
      `${entryField(d)} "pipe" is invalid: must be a regular file, a directory or a symlink to a file (it is a fifo)`,
  },
  {
    name: "symlink to a fifo inside",
    setup: () =>
      folder((d) => {
        execFileSync("mkfifo", [path.join(d, "pipe")]);
        fs.symlinkSync("pipe", path.join(d, "a-link"));
      }),
    message: (d) =>
      `${entryField(d)} "a-link" is invalid: must be a symlink to a regular file (it points to a fifo)`,
  },
];

test.each(refusals)("refuses $name", async ({ setup, limits, message }) => {
  const dir = setup();
  const before = fs.readdirSync(tmp).sort();
  const err = await scanPackageFolder(dir, limits).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(InputError);
  expect((err as Error).message).toBe(message(dir));
  expect(fs.readdirSync(tmp).sort()).toEqual(before); // nothing written
});

describe("staging copies (.<name>.<pid>.staging)", () => {
  // A live process that is not this one, and one that has ended.
  let live: ChildProcess;
  beforeAll(() => {
    live = spawn(process.execPath, ["-e", "setInterval(() => {}, 1e9)"], { stdio: "ignore" });
  });
  afterAll(() => live.kill());

  test("one another live process is writing is refused, not zipped half copied", async () => {
    // Two runs staging one folder at once: the first to finish must not zip the other's copy.
    const name = `.tool.${live.pid}.staging`;
    const dir = folder((d) => {
      fs.mkdirSync(path.join(d, "bin"));
      fs.writeFileSync(path.join(d, "bin", name), "half a tool");
    });
    await expect(scanPackageFolder(dir)).rejects.toThrow(
      new InputError(
        `path in package folder ${JSON.stringify(dir)}`,
        `bin/${name}`,
        `is a copy another hpc-batch run (process ${live.pid}) is staging: run again once it has ended (if process ${live.pid} is not an hpc-batch run, rename the file)`,
      ),
    );
  });

  test("once its process has ended, or with this process's id, the name is ordinary content", async () => {
    const dead = spawnSync(process.execPath, ["-e", ""]).pid as number;
    const dir = folder((d) => {
      fs.writeFileSync(path.join(d, `.notes.${dead}.staging`), "mine");
      fs.writeFileSync(path.join(d, `.notes.${process.pid}.staging`), "mine too");
    });
    const scan = await scanPackageFolder(dir);
    expect(scan.entries.map((e) => e.zipPath).sort()).toEqual(
      [`.notes.${dead}.staging`, `.notes.${process.pid}.staging`, "ok.txt"].sort(),
    );
  });
});

test("refuses a socket", async () => {
  const dir = folder();
  const server = net.createServer();
  // Bound by a relative path: a socket's path is limited (104 bytes on macOS), the temp folder's
  // is not (`npm test` nests the run's own folder in it).
  const cwd = process.cwd();
  process.chdir(dir);
  const listening = new Promise<void>((resolve) => server.listen("sock", resolve));
  process.chdir(cwd);
  await listening;
  try {
    await expect(scanPackageFolder(dir)).rejects.toThrow(
      `${entryField(dir)} "sock" is invalid: must be a regular file, a directory or a symlink to a file (it is a socket)`,
    );
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test("lists entries sorted by path bytes, with directory entries and normalized modes", async () => {
  const dir = folder((d) => {
    fs.mkdirSync(path.join(d, "bin"));
    fs.writeFileSync(path.join(d, "bin", "tool"), "#!/bin/sh\n", { mode: 0o700 });
    fs.writeFileSync(path.join(d, "bin-notes"), "n", { mode: 0o600 });
    fs.mkdirSync(path.join(d, "empty"));
    fs.writeFileSync(path.join(d, "Z"), "z");
    fs.symlinkSync("bin/tool", path.join(d, "tool-link"));
  });
  const scan = await scanPackageFolder(dir);
  expect(scan.root).toBe(fs.realpathSync(dir));
  expect(scan.entries.map((e) => [e.zipPath, e.kind, e.size, e.mode])).toEqual([
    ["Z", "file", 1, FILE_MODE],
    ["bin-notes", "file", 1, FILE_MODE],
    ["bin/", "directory", 0, DIRECTORY_MODE],
    ["bin/tool", "file", 10, EXECUTABLE_MODE],
    ["empty/", "directory", 0, DIRECTORY_MODE],
    ["ok.txt", "file", 3, FILE_MODE],
    // A symlink to a file inside is stored as that file: its content and mode.
    ["tool-link", "file", 10, EXECUTABLE_MODE],
  ]);
  expect(scan.entries.find((e) => e.zipPath === "tool-link")?.source).toBe(
    path.join(fs.realpathSync(dir), "bin", "tool"),
  );
  expect([scan.files, scan.directories, scan.totalBytes]).toEqual([5, 2, 25]);
});

test("a folder reached through a symlink is scanned as its target", async () => {
  const dir = folder();
  fs.symlinkSync(dir, path.join(tmp, "via-link"));
  const scan = await scanPackageFolder(path.join(tmp, "via-link"));
  expect(scan.entries.map((e) => e.zipPath)).toEqual(["ok.txt"]);
  expect(scan.root).toBe(fs.realpathSync(dir));
});

test.each([
  ["bin/ffmpeg", 1024, null],
  [
    "a\\b",
    1024,
    "must not contain '\\' (a path separator on Windows, so the name could escape the extraction folder)",
  ],
  ["tab\there", 1024, "must not contain control characters"],
  ["del\u007f", 1024, "must not contain control characters"],
  ["\u00e9t\u00e9", 4, "must be at most 4 bytes long (it is 5)"],
  ["\u00e9t\u00e9", 5, null],
])("pathRule(%j, %d) is %j", (rel, max, rule) => {
  expect(pathRule(rel, max)).toBe(rule);
});

test("limits: defaults, overrides and refusals", () => {
  expect(resolveLimits()).toEqual({
    maxEntries: 65_534,
    maxTotalBytes: 4_000_000_000,
    maxPathBytes: 1_024,
    maxCompressionRatio: 100,
  });
  expect(resolveLimits({ maxEntries: 3 })).toEqual({ ...DEFAULT_PACKAGE_LIMITS, maxEntries: 3 });
  expect(() => resolveLimits({ maxTotalBytes: 0 })).toThrow(
    "limits.maxTotalBytes 0 is invalid: must be a positive integer",
  );
  expect(() => resolveLimits({ maxEntries: 1.5 })).toThrow(
    "limits.maxEntries 1.5 is invalid: must be a positive integer",
  );
});
