/**
 * The package version: from config (`hpc-batch:batchApplicationVersion`, or `--version`) when
 * set, else computed from the conventional commits that touched the package folder since the last
 * release tag. The rule (docs/packaging.md):
 *
 * - Release tags are `app-v<major>.<minor>.<patch>` (plain semver, no pre-release) on commits
 *   reachable from HEAD; the highest one is the last release. `app-` keeps them apart from tags
 *   of the hpc-batch tool itself.
 * - Commits since that tag touching the folder (merges skipped) each bump: `!` after the type or a
 *   `BREAKING CHANGE:` / `BREAKING-CHANGE:` footer -> major; `feat` -> minor; anything else,
 *   conventional or not -> patch (every change to what ships must move the version: Batch
 *   refuses to reuse one). The highest bump wins.
 * - No such commit: the tag's version (an unchanged re-release). N > 0 such commits:
 *   `<bumped>-rc.<N>`, so every commit that changes the package gets its own version; tagging
 *   `app-v<bumped>` releases it as `<bumped>`. No tag yet: `1.0.0-rc.<N>` (first release 1.0.0).
 * - Batch versions allow `[A-Za-z0-9_.-]`, at most 64 characters, no `+`: semver build metadata
 *   is never produced.
 * - No git, no repository, or a shallow clone without the tag: an InputError asking for the
 *   version in config, or full history (guessing could reuse a version for different content).
 */
import { execFile } from "node:child_process";
import * as path from "node:path";
import type * as Semver from "semver";
import { InputError } from "../core/errors";
import { validateApplicationVersion } from "../core/naming";
import { checkPackageFolder } from "./packageFolder";

/** Loaded on first use: a version given as is (a flag, config) needs no semver (about 20 ms). */
function semver(): typeof Semver {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("semver") as typeof Semver;
}

export type Bump = "major" | "minor" | "patch";

export interface ClassifiedCommit {
  /** The conventional type, lower-cased; null when the header is not conventional. */
  type: string | null;
  breaking: boolean;
  bump: Bump;
}

export const RELEASE_TAG_PREFIX = "app-v";
export const FIRST_RELEASE = "1.0.0";
export const DEFAULT_VERSION_FIELD = "hpc-batch:batchApplicationVersion";

// Conventional Commits 1.0.0: `type(scope)!: description`; types are case-insensitive.
const HEADER = /^([A-Za-z][\w-]*)(?:\([^()\r\n]*\))?(!)?: \S/;
// Footer token; the spec requires BREAKING CHANGE in upper case and makes BREAKING-CHANGE a synonym.
const BREAKING_FOOTER = /^BREAKING[ -]CHANGE: /m;

/** Classifies one commit message. Pure. */
export function classifyCommit(message: string): ClassifiedCommit {
  const header = HEADER.exec(message);
  const type = header ? header[1].toLowerCase() : null;
  const body = message.slice(message.indexOf("\n") + 1);
  const breaking =
    (header !== null && header[2] === "!") ||
    (message.includes("\n") && BREAKING_FOOTER.test(body));
  const bump: Bump = breaking ? "major" : type === "feat" ? "minor" : "patch";
  return { type, breaking, bump };
}

const ORDER: Record<Bump, number> = { patch: 0, minor: 1, major: 2 };

/** The highest of the bumps, or null for none. Pure. */
export function highestBump(bumps: Iterable<Bump>): Bump | null {
  let best: Bump | null = null;
  for (const b of bumps) if (best === null || ORDER[b] > ORDER[best]) best = b;
  return best;
}

/** The release a tag names (`app-v1.2.3` -> `1.2.3`), or null for other tags. Pure. */
export function releaseOfTag(tag: string, prefix = RELEASE_TAG_PREFIX): string | null {
  if (!tag.startsWith(prefix)) return null;
  const v = tag.slice(prefix.length);
  // Plain x.y.z only: pre-release tags are not releases, and `+` cannot reach Batch.
  return /^\d+\.\d+\.\d+$/.test(v) && semver().valid(v) === v ? v : null;
}

/**
 * The version for a package whose last release is `lastRelease` (null: none yet) and whose folder
 * changed in `messages` since (newest first or any order). Pure.
 */
export function computeVersion(lastRelease: string | null, messages: readonly string[]): string {
  const n = messages.length;
  if (lastRelease === null) return `${FIRST_RELEASE}-rc.${n}`;
  if (n === 0) return lastRelease;
  const bump = highestBump(messages.map((m) => classifyCommit(m).bump)) as Bump;
  return `${semver().inc(lastRelease, bump)}-rc.${n}`;
}

export interface AppHistory {
  /** The last release tag reachable from HEAD, or null. */
  tag: string | null;
  release: string | null;
  /** Messages of the non-merge commits since `tag` that touched the folder, newest first. */
  messages: string[];
  /** The folder has uncommitted changes (untracked files included, ignored files not). */
  dirty: boolean;
}

function git(cwd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "git",
      args,
      // No optional index lock: other tools may be using the same working tree.
      { cwd, env: { ...process.env, GIT_OPTIONAL_LOCKS: "0", LC_ALL: "C" }, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (err) {
          const e = err as NodeJS.ErrnoException & { stderr?: string; stdout?: string };
          e.stderr = String(stderr);
          e.stdout = String(stdout);
          reject(e);
        } else resolve(String(stdout));
      },
    );
  });
}

/** The histories read while a `withOneHistoryRead` scope is open, by folder, prefix and field. */
let scopeMemo: Map<string, Promise<AppHistory>> | undefined;

/**
 * Runs `fn` reading each folder's history at most once (four git processes), however often it is
 * asked for, relative paths resolved against the working directory at each call. `hpc-batch plan`
 * resolves the version for its own package, then runs the program, which resolves it again: one
 * read also guarantees both see the same commits. Outside a scope every call reads git (a
 * long-lived process, or a test that commits between calls, sees each new commit).
 *
 * The scope is the process's while `fn` runs, not an async context (AsyncLocalStorage would put
 * a hook on every promise the Pulumi engine makes): a read that overlaps a scope shares it.
 */
export async function withOneHistoryRead<T>(fn: () => Promise<T>): Promise<T> {
  const outer = scopeMemo;
  scopeMemo ??= new Map();
  try {
    return await fn();
  } finally {
    if (outer === undefined) scopeMemo = undefined;
  }
}

/**
 * Reads the folder's release history from git. Throws InputError (naming `field`, the config key
 * that would make git unnecessary) when git, the repository or the history is missing.
 */
export function readAppHistory(
  folder: string,
  opts: { field?: string; tagPrefix?: string } = {},
): Promise<AppHistory> {
  const field = opts.field ?? DEFAULT_VERSION_FIELD;
  const prefix = opts.tagPrefix ?? RELEASE_TAG_PREFIX;
  const memo = scopeMemo;
  if (memo === undefined) return readHistoryFromGit(folder, field, prefix);
  const key = JSON.stringify([path.resolve(folder), prefix, field]);
  let read = memo.get(key);
  if (read === undefined) {
    read = readHistoryFromGit(folder, field, prefix);
    memo.set(key, read);
  }
  return read;
}

async function readHistoryFromGit(
  folder: string,
  field: string,
  prefix: string,
): Promise<AppHistory> {
  const need = (why: string) =>
    new InputError(
      field,
      undefined,
      `must be set: ${why}, so the version cannot be computed from commits`,
    );
  checkPackageFolder(folder);
  // One process for three questions: in a repository? shallow? any commit yet? With no commit,
  // `--verify --quiet HEAD` exits 1 with nothing on stderr, after the two other answers.
  let answers: string[];
  let hasHead = true;
  try {
    answers = (
      await git(folder, [
        "rev-parse",
        "--show-toplevel",
        "--is-shallow-repository",
        "--verify",
        "--quiet",
        "HEAD",
      ])
    ).split("\n");
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string; stdout?: string };
    if (e.code === "ENOENT") throw need("git is not installed");
    const exitStatus: unknown = e.code;
    const printed = (e.stdout ?? "").split("\n");
    if (exitStatus === 1 && printed.length === 3 && printed[2] === "") {
      answers = printed;
      hasHead = false;
    } else {
      const said = (e.stderr ?? "").trim().split("\n")[0];
      throw need(`${folder} is not in a git repository${said ? ` (git: ${said})` : ""}`);
    }
  }
  const shallow = answers[1] === "true";
  const [dirty, tags] = await Promise.all([
    git(folder, ["status", "--porcelain", "--", "."]).then((out) => out.trim() !== ""),
    hasHead
      ? git(folder, ["tag", "--merged", "HEAD", "--list", `${prefix}*`]).then((out) =>
          out.split("\n").filter((t) => t !== ""),
        )
      : Promise.resolve([]),
  ]);
  if (!hasHead) {
    if (shallow) throw need("the clone is shallow");
    return { tag: null, release: null, messages: [], dirty };
  }
  let tag: string | null = null;
  let release: string | null = null;
  for (const t of tags) {
    const v = releaseOfTag(t, prefix);
    if (v !== null && (release === null || semver().gt(v, release))) {
      tag = t;
      release = v;
    }
  }
  // Without the tag, a shallow history would count too few commits and could repeat a version.
  if (shallow && tag === null) {
    throw need(
      `the clone is shallow and has no ${prefix}* release tag (fetch full history and tags, e.g. actions/checkout with fetch-depth: 0)`,
    );
  }
  const range = tag === null ? "HEAD" : `refs/tags/${tag}..HEAD`;
  const log = await git(folder, ["log", "--no-merges", "-z", "--format=%B", range, "--", "."]);
  const messages = log
    .split("\0")
    .map((m) => m.trim())
    .filter((m) => m !== "");
  return { tag, release, messages, dirty };
}

export interface ResolvedVersion {
  version: string;
  source: "config" | "git";
  /** For `git`: the release tag counted from (null: none) and the commits since it. */
  tag: string | null;
  commits: number;
  /** For `git`: the folder had uncommitted changes, which the version does not reflect. */
  dirty: boolean;
}

/**
 * The version to package `folder` as: `configured` when given (validated as a Batch version,
 * messages naming `field`), else computed from git history.
 */
export async function resolveApplicationVersion(opts: {
  folder: string;
  configured?: string;
  field?: string;
  tagPrefix?: string;
}): Promise<ResolvedVersion> {
  const field = opts.field ?? DEFAULT_VERSION_FIELD;
  if (opts.configured !== undefined) {
    const version = validateApplicationVersion(field, opts.configured);
    return { version, source: "config", tag: null, commits: 0, dirty: false };
  }
  const history = await readAppHistory(opts.folder, { field, tagPrefix: opts.tagPrefix });
  const version = validateApplicationVersion(
    `version computed for ${opts.folder}`,
    computeVersion(history.release, history.messages),
  );
  return {
    version,
    source: "git",
    tag: history.tag,
    commits: history.messages.length,
    dirty: history.dirty,
  };
}
