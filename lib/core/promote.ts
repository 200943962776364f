/**
 * When a published version becomes the application's default version: one rule text for the
 * component args, the stack config and the provider's checks. Pure.
 */

import { InputError } from "./errors";

/** When a published version becomes the application's default. */
export type Promote = "on-publish" | "after-canary";

export const PROMOTE_VALUES: readonly Promote[] = ["on-publish", "after-canary"];

export const PROMOTE_RULE =
  'must be "on-publish" (the version becomes the default once active) or "after-canary" ' +
  "(after the first release, `hpc-batch verify --promote` makes it the default once a smoke " +
  "task that references it has passed on the pool)";

/** Checks a promote mode; throws an InputError naming `field`. */
export function validatePromote(field: string, value: unknown): Promote {
  if (!PROMOTE_VALUES.includes(value as Promote)) throw new InputError(field, value, PROMOTE_RULE);
  return value as Promote;
}
