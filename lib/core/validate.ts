/**
 * Generic helpers for checking input: collecting every problem before reporting (`collect`,
 * `checkKnown`), values a Pulumi component cannot check yet (`isKnownValue`), and unknown keys
 * with a suggestion for a slip (`unknownKeys`, `closestKey`). The rules themselves live with what
 * they check: the pool's in `poolRules.ts`, the stack config's in `config.ts`, names in
 * `naming.ts`.
 */
import { InputError, InputErrors } from "./errors";

/** Runs `fn`, moving any InputError it throws into `errors`; returns its result or undefined. */
export function collect<T>(errors: InputError[], fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InputErrors) errors.push(...err.errors);
    else if (err instanceof InputError) errors.push(err);
    else throw err;
    return undefined;
  }
}

/** True for a plain object: not null, not an array. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** True for a whole number from `min` to `max`. */
export function isWhole(v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
}

/** `isKnown(v)` tells whether a value can be checked now (false for Outputs in a component). */
export type IsKnown = (value: unknown) => boolean;

/**
 * True for a value a component can check up front: not a Pulumi Output and not a Promise.
 * Duck-typed (`__pulumiOutput`, as `pulumi.Output.isInstance` does) to keep lib free of Pulumi.
 */
export function isKnownValue(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return true;
  const v = value as { __pulumiOutput?: unknown; then?: unknown };
  return v.__pulumiOutput !== true && typeof v.then !== "function";
}

/** Runs each `[field, value, validate]` whose value is set and known; returns the problems. */
export function checkKnown(
  checks: readonly (readonly [string, unknown, (field: string, value: unknown) => unknown])[],
): InputError[] {
  const errors: InputError[] = [];
  for (const [field, value, validate] of checks) {
    if (value !== undefined && isKnownValue(value)) collect(errors, () => validate(field, value));
  }
  return errors;
}

/** Edit distance (insertions, deletions, substitutions) between `a` and `b`. */
export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/**
 * Names Azure uses for settings hpc-batch calls otherwise (the ARM pool properties), so a key
 * copied from ARM or the portal gets the right suggestion however far it is in spelling.
 */
const KEY_ALIASES: Readonly<Record<string, string>> = {
  targetdedicatednodes: "dedicatedNodes",
  targetlowprioritynodes: "spotNodes",
  lowprioritynodes: "spotNodes",
  vmsize: "vmSize",
};

/**
 * The known key closest to `key`, when close enough to be a slip: an alias (`KEY_ALIASES`), or
 * at most a third of its length in edits (at least 2), case ignored. Undefined otherwise.
 */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const alias = KEY_ALIASES[lower];
  if (alias !== undefined && known.includes(alias)) return alias;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = levenshtein(lower, k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 3))
    ? best
    : undefined;
}

/** ` (did you mean <key>?)` when a known key is close to `key`, else "". */
export function didYouMean(key: string, known: readonly string[]): string {
  const close = closestKey(key, known);
  return close === undefined ? "" : ` (did you mean ${close}?)`;
}

export function unknownKeys(
  field: string,
  obj: Record<string, unknown>,
  known: readonly string[],
  what: string,
): InputError[] {
  return Object.keys(obj)
    .filter((k) => !known.includes(k))
    .map(
      (k) =>
        new InputError(
          `${field}.${k}`,
          obj[k],
          `is not a known ${what} setting${didYouMean(k, known)}; known: ${known.join(", ")}`,
        ),
    );
}
