import { redactSecrets } from "./secretScan";

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

/** Several InputErrors reported together (all a config's problems at once); one line each. */
export class InputErrors extends InputError {
  readonly errors: readonly InputError[];

  constructor(errors: readonly InputError[]) {
    if (errors.length === 0) throw new Error("InputErrors needs at least one error");
    super(errors[0].field, errors[0].value, errors[0].rule);
    this.name = "InputErrors";
    this.errors = errors;
    this.message = errors.map((e) => e.message).join("\n");
  }
}

/** Throws nothing for no errors, the error itself for one, `InputErrors` for several. */
export function throwIfAny(errors: readonly InputError[]): void {
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new InputErrors(errors);
}

/**
 * Renders a value for an error message: strings quoted, credentials redacted (lib/core/secretScan),
 * long values cut, objects as JSON.
 */
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
  // A value that carries a credential (a SAS URL, a connection string) is shown without it,
  // redacted before the cut so a cut cannot hide a credential's shape from the scan.
  text = redactSecrets(text);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
