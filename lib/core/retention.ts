/**
 * Which application package versions to delete: keep the newest N active versions, plus the
 * default version, any version a pool references and the version just published; leave pending
 * versions alone (another run may be uploading one). Batch allows 40 versions per application by
 * default, so a pipeline that publishes per build must prune. Pure: no I/O.
 */
import { InputError } from "./errors";

/** Versions kept when nothing is configured. */
export const DEFAULT_RETAIN_VERSIONS = 5;
/** Batch's default quota of versions per application. */
export const MAX_RETAIN_VERSIONS = 40;

export interface VersionRecord {
  name: string;
  /** `Active` or `Pending`. */
  state: string;
  /** When it was last activated; absent for pending versions. */
  lastActivationTime?: Date | string;
}

export interface RetentionInput {
  versions: VersionRecord[];
  /** How many of the newest active versions to keep (1 to 40). */
  keep: number;
  defaultVersion?: string;
  /** Versions pools reference. */
  referenced?: string[];
  /** The version this run published: always kept, and counted first among the newest N. */
  current?: string;
}

export interface RetentionDecision {
  /** Version names to delete, oldest first. */
  delete: string[];
  /** Version names kept, each with why. */
  kept: { name: string; reason: "newest" | "default" | "referenced" | "current" | "pending" }[];
}

/** The one wording of the retention rule (config, component args and CLI flags share it). */
export const RETAIN_VERSIONS_RULE = `must be a whole number from 1 to ${MAX_RETAIN_VERSIONS} (Batch allows ${MAX_RETAIN_VERSIONS} versions per application)`;

/**
 * Checks a retention count: a whole number from 1 to 40. With `fromText` (stack config, whose
 * values may arrive as text), digits such as "5" count as their number; the message still shows
 * the value as given.
 */
export function validateRetainVersions(
  field: string,
  value: unknown,
  opts: { fromText?: boolean } = {},
): number {
  const n =
    opts.fromText && typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > MAX_RETAIN_VERSIONS) {
    throw new InputError(field, value, RETAIN_VERSIONS_RULE);
  }
  return n;
}

const time = (v: VersionRecord) =>
  v.lastActivationTime === undefined ? 0 : new Date(v.lastActivationTime).getTime();

/** Newest first: by activation time, then by version name in natural order (2.10 after 2.9). */
function newestFirst(a: VersionRecord, b: VersionRecord): number {
  return (
    time(b) - time(a) || b.name.localeCompare(a.name, "en", { numeric: true, sensitivity: "base" })
  );
}

export function chooseVersionsToDelete(input: RetentionInput): RetentionDecision {
  // A plain Error (not InputError): this runs inside the serialized dynamic provider, where Error
  // subclasses lose their message. Callers validate `keep` with validateRetainVersions first.
  if (!Number.isInteger(input.keep) || input.keep < 1 || input.keep > MAX_RETAIN_VERSIONS) {
    throw new RangeError(
      `keep must be a whole number from 1 to ${MAX_RETAIN_VERSIONS}, not ${input.keep}`,
    );
  }
  // Version names are unique per application case-insensitively.
  const key = (s: string) => s.toLowerCase();
  const is = (a: string, b: string | undefined) => b !== undefined && key(a) === key(b);
  const referenced = new Set((input.referenced ?? []).map(key));
  // The newest N active versions; the one just published counts first whatever its timestamp.
  const active = input.versions
    .filter((v) => v.state === "Active")
    .sort(
      (a, b) =>
        Number(is(b.name, input.current)) - Number(is(a.name, input.current)) || newestFirst(a, b),
    );
  const newest = new Set(active.slice(0, input.keep).map((v) => key(v.name)));
  const kept: RetentionDecision["kept"] = [];
  const doomed: VersionRecord[] = [];
  for (const v of input.versions) {
    if (is(v.name, input.current)) kept.push({ name: v.name, reason: "current" });
    else if (newest.has(key(v.name))) kept.push({ name: v.name, reason: "newest" });
    else if (is(v.name, input.defaultVersion)) kept.push({ name: v.name, reason: "default" });
    else if (referenced.has(key(v.name))) kept.push({ name: v.name, reason: "referenced" });
    else if (v.state !== "Active") kept.push({ name: v.name, reason: "pending" });
    else doomed.push(v);
  }
  return {
    delete: doomed
      .sort(newestFirst)
      .reverse()
      .map((v) => v.name),
    kept,
  };
}
