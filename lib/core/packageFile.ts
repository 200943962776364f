/**
 * A built application package, described once: the zip `buildPackage` (lib/package/zip) writes,
 * `publishPackage` (lib/publish/publish) uploads and the ApplicationPackage component takes, with
 * the one check of its fields and their rule texts (the component and its provider both use them).
 */

/** A package zip built for one application version. */
export interface PackageInfo {
  /** Absolute path of the zip. */
  path: string;
  /** Hex SHA-256 of the zip's bytes: what decides whether anything is published. */
  sha256: string;
  /** Size of the zip in bytes. */
  bytes: number;
  version: string;
  applicationId: string;
  /** Number of files (directories not counted). */
  files: number;
  /**
   * Set when a zip of the same id and version with other content was at the path and this build
   * replaced it (`ifChanged: "replace"`): that zip's sha256 and size.
   */
  replaced?: { sha256: string; bytes: number };
}

/**
 * What publishing takes of a PackageInfo (which fits as is): the zip and what it must hash to;
 * `version`, when given, is the version the zip was built for, checked against the one published.
 */
export type PackageFile = Pick<PackageInfo, "path" | "sha256" | "bytes"> &
  Partial<Pick<PackageInfo, "version">>;

/** The rule for a package file that is not an object at all. */
export const PACKAGE_FILE_RULE = "must be { path, sha256, bytes } (the result of buildPackage)";

/** The rule of each checked field of a PackageFile. */
export const PACKAGE_FILE_RULES = {
  path: "must be the path of the zip",
  sha256: "must be 64 lowercase hex characters",
  bytes: "must be the zip's size in bytes (a positive whole number)",
} as const;

export type PackageFileField = keyof typeof PACKAGE_FILE_RULES;

const VALID: Record<PackageFileField, (v: unknown) => boolean> = {
  path: (v) => typeof v === "string" && v !== "",
  sha256: (v) => typeof v === "string" && /^[0-9a-f]{64}$/.test(v),
  bytes: (v) => typeof v === "number" && Number.isInteger(v) && v > 0,
};

/**
 * The fields of `file` that break their rule, in the order path, sha256, bytes. A field whose
 * value `judged` refuses (not known yet: a Pulumi output, a preview's unknown value) is skipped.
 */
export function packageFileFailures(
  file: Partial<Record<PackageFileField, unknown>>,
  judged: (value: unknown) => boolean,
): { field: PackageFileField; value: unknown; rule: string }[] {
  return (Object.keys(PACKAGE_FILE_RULES) as PackageFileField[])
    .filter((field) => judged(file[field]) && !VALID[field](file[field]))
    .map((field) => ({ field, value: file[field], rule: PACKAGE_FILE_RULES[field] }));
}
