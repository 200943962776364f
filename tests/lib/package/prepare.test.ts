import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { InputError } from "../../../lib/core/errors";
import { preparePackage, type PreparePackageOptions } from "../../../lib/package/prepare";
import type { ResolvedVersion } from "../../../lib/package/version";
import { buildPackage, PackageChangedError, type PackageProgress } from "../../../lib/package/zip";
import { git } from "../../support/git";
import { fakeNpmPackage } from "../../support/fakeNpmPackage";

const SHALLOW_RULE =
  "must be set: the clone is shallow and has no app-v* release tag (fetch full history and tags, e.g. actions/checkout with fetch-depth: 0), so the version cannot be computed from commits";

let tmp: string;
/** A project (a git repository) holding an installed npm package and the package folder `app`. */
let project: string;
let app: string;
let out: string;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hpc-prepare-"));
  project = path.join(tmp, "project");
  app = path.join(project, "app");
  out = path.join(tmp, "out");
  fakeNpmPackage(project);
  fs.mkdirSync(app, { recursive: true });
  fs.writeFileSync(
    path.join(app, "stage.json"),
    JSON.stringify({ files: [{ from: "@acme/tool/bin/tool", to: "bin/tool" }] }),
  );
  fs.writeFileSync(path.join(app, "run.sh"), "#!/bin/sh\nbin/tool\n", { mode: 0o755 });
  // What staging writes is not committed, as in the real project.
  fs.writeFileSync(path.join(project, ".gitignore"), "node_modules/\napp/bin/\n");
  git(project, "init", "-q");
  git(project, "add", "-A");
  git(project, "commit", "-q", "-m", "feat: the app");
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A shallow clone of the project without a release tag: no version can be computed there. */
function shallowClone(): string {
  git(project, "commit", "-q", "--allow-empty", "-m", "chore: second");
  const clone = path.join(tmp, "clone");
  git(tmp, "clone", "-q", "--depth", "1", `file://${project}`, clone);
  return path.join(clone, "app");
}

/** The folder through a symlink: how a command line may name it. */
function linkToApp(): string {
  const link = path.join(tmp, "typed");
  fs.symlinkSync(app, link);
  return link;
}

const CONFIGURED: ResolvedVersion = {
  version: "2.0.0",
  source: "config",
  tag: null,
  commits: 0,
  dirty: false,
};

type Expected =
  | {
      staged: string[];
      resolved: ResolvedVersion & { fallback?: string };
      zip: string;
      files: number;
    }
  | { error: string };

test.each<[string, () => Partial<PreparePackageOptions>, () => Expected]>([
  [
    "the program: staged, the configured version, built",
    () => ({ folderField: "hpc-batch:applicationFolder", version: "2.0.0" }),
    () => ({ staged: ["copied"], resolved: CONFIGURED, zip: "ffmpeg-2.0.0.zip", files: 3 }),
  ],
  [
    "the version computed from the commits since the last release tag",
    () => {
      git(project, "tag", "app-v1.0.0");
      fs.writeFileSync(path.join(app, "run.sh"), "#!/bin/sh\nbin/tool -v\n");
      git(project, "commit", "-q", "-am", "feat: verbose");
      return {};
    },
    () => ({
      staged: ["copied"],
      resolved: {
        version: "1.1.0-rc.1",
        source: "git",
        tag: "app-v1.0.0",
        commits: 1,
        dirty: false,
      },
      zip: "ffmpeg-1.1.0-rc.1.zip",
      files: 3,
    }),
  ],
  [
    "`package`: not staged, so the folder (named as typed) lacks its binary",
    () => ({ stage: false, shownFolder: linkToApp(), resolveFrom: [app], version: "2.0.0" }),
    () => {
      const typed = path.join(tmp, "typed");
      return {
        error: `package folder ${JSON.stringify(typed)} is invalid: must hold bin/tool, which stage.json copies from @acme/tool/bin/tool: stage it first (npm run stage-app, or hpc-batch stage --folder ${typed})`,
      };
    },
  ],
  [
    "staging comes first: a missing folder named by its config key, not by the version's read",
    () => ({ folder: path.join(tmp, "missing"), folderField: "hpc-batch:applicationFolder" }),
    () => ({
      error: `hpc-batch:applicationFolder ${JSON.stringify(path.join(tmp, "missing"))} is invalid: must be an existing directory`,
    }),
  ],
  [
    "a plan: no history, so the stand-in version and why",
    () => ({ folder: shallowClone(), resolveFrom: [project], unversioned: "0.0.0-unversioned" }),
    () => ({
      staged: ["copied"],
      resolved: {
        version: "0.0.0-unversioned",
        source: "git",
        tag: null,
        commits: 0,
        dirty: false,
        fallback: SHALLOW_RULE,
      },
      zip: "ffmpeg-0.0.0-unversioned.zip",
      files: 3,
    }),
  ],
  [
    "the program: no history, so the error asks for the version in config",
    () => ({ folder: shallowClone(), resolveFrom: [project] }),
    () => ({ error: `hpc-batch:batchApplicationVersion (unset) is invalid: ${SHALLOW_RULE}` }),
  ],
  [
    "a command: the error names the flag",
    () => ({ folder: shallowClone(), resolveFrom: [project], versionField: "--version" }),
    () => ({ error: `--version (unset) is invalid: ${SHALLOW_RULE}` }),
  ],
  [
    "a configured version is checked, never stood in for",
    () => ({ version: "1.0+b", unversioned: "0.0.0-unversioned" }),
    () => ({
      error: `hpc-batch:batchApplicationVersion "1.0+b" is invalid: must be 1 to 64 letters, digits, '-', '_' or '.', not starting with '.' ('+' is not allowed, so semver build metadata cannot be used as is)`,
    }),
  ],
])("%s", async (_name, setup, expected) => {
  const opts: PreparePackageOptions = { folder: app, applicationId: "ffmpeg", outDir: out };
  Object.assign(opts, setup());
  const want = expected();
  if ("error" in want) {
    const err = await preparePackage(opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toBe(want.error);
    expect(fs.existsSync(out)).toBe(false);
    return;
  }
  const { staged, resolved, built } = await preparePackage(opts);
  expect(staged.map((s) => s.action)).toEqual(want.staged);
  expect(resolved).toEqual(want.resolved);
  const zip = fs.readFileSync(path.join(out, want.zip));
  expect(built).toEqual({
    path: path.join(out, want.zip),
    sha256: createHash("sha256").update(zip).digest("hex"),
    bytes: zip.length,
    version: want.resolved.version,
    applicationId: "ffmpeg",
    files: want.files,
  });
});

describe("a zip of the same version with other content", () => {
  /** Builds, changes run.sh, builds again; answers both builds' digests (or the error). */
  async function rebuild(opts: Partial<PreparePackageOptions>) {
    const base: PreparePackageOptions = { folder: app, applicationId: "ffmpeg", outDir: out };
    const first = await preparePackage({ ...base, ...opts });
    fs.writeFileSync(path.join(app, "run.sh"), "#!/bin/sh\nbin/tool --other\n");
    // The second content's zip, built apart: the bytes depend only on the files.
    const other = await buildPackage({
      folder: app,
      outDir: path.join(tmp, "apart"),
      applicationId: "ffmpeg",
      version: first.built.version,
    });
    const second = await preparePackage({ ...base, ...opts }).catch((e: unknown) => e);
    return { first: first.built, other, second };
  }

  test.each<[string, Partial<PreparePackageOptions>, "refused" | "replaced"]>([
    ["the default replaces it", { version: "1.0.0" }, "replaced"],
    [
      "refused when the version claims its content",
      { version: "1.0.0", ifChanged: "refuse" },
      "refused",
    ],
    // The computed version with uncommitted changes is provisional: it claims nothing yet.
    [
      "replaced even with refuse when the version is provisional",
      { ifChanged: "refuse" },
      "replaced",
    ],
  ])("%s", async (_name, opts, outcome) => {
    const { first, other, second } = await rebuild(opts);
    if (outcome === "refused") {
      expect(second).toBeInstanceOf(PackageChangedError);
      expect((second as Error).message).toBe(
        `version "1.0.0" is invalid: ${first.path} already holds version 1.0.0 with other content (sha256 ${first.sha256.slice(0, 12)}..., now ${other.sha256.slice(0, 12)}...): a version must keep its content once built; build another version`,
      );
      expect(
        fs.readFileSync(first.path).equals(fs.readFileSync(path.join(out, "ffmpeg-1.0.0.zip"))),
      ).toBe(true);
      return;
    }
    const { resolved, built } = second as Awaited<ReturnType<typeof preparePackage>>;
    expect(resolved.dirty).toBe(opts.version === undefined);
    expect(built).toEqual({
      ...first,
      sha256: other.sha256,
      bytes: other.bytes,
      replaced: { sha256: first.sha256, bytes: first.bytes },
    });
  });
});

test("progress is reported as the zip's content is read", async () => {
  const seen: PackageProgress[] = [];
  const { built } = await preparePackage({
    folder: app,
    applicationId: "ffmpeg",
    outDir: out,
    version: "2.0.0",
    onProgress: (p) => seen.push({ ...p }),
  });
  // bin/tool (20 bytes), run.sh (19), stage.json, in zip order.
  const total = 20 + 19 + fs.statSync(path.join(app, "stage.json")).size;
  expect(seen.at(-1)).toEqual({
    file: "stage.json",
    filesDone: 3,
    filesTotal: 3,
    bytesDone: total,
    bytesTotal: total,
  });
  expect(built.files).toBe(3);
});
