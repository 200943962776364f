/**
 * Bad input, found before any cloud call or file write. The message always names the field,
 * the value and the rule, e.g.
 * `hpc-batch:batchAccountName "My_Account" is invalid: must be 3 to 24 lowercase letters and digits`.
 */
export class InputError extends Error {
  constructor(
    /** Where the value came from: a config key (`hpc-batch:pool.vmSize`), an arg or a flag. */
    readonly field: string,
    readonly value: unknown,
    /** What the value must satisfy, phrased to follow "must ..." or a full sentence. */
    readonly rule: string,
  ) {
    super(`${field} ${renderValue(value)} is invalid: ${rule}`);
    this.name = "InputError";
  }
}

/** Renders a value for an error message: strings quoted, long values cut, objects as JSON. */
export function renderValue(value: unknown): string {
  let text: string;
  if (value === undefined) text = "(unset)";
  else if (typeof value === "string") text = JSON.stringify(value);
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
