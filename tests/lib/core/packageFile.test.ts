import { packageFileFailures, type PackageFile } from "../../../lib/core/packageFile";

const SHA = "a".repeat(64);
const GOOD: PackageFile = { path: "/out/ffmpeg-1.0.0.zip", sha256: SHA, bytes: 10 };
const judgedWhenSet = (v: unknown) => v !== undefined;

test.each<[string, Record<string, unknown>, (v: unknown) => boolean, unknown[]]>([
  ["a built package", { ...GOOD, version: "1.0.0" }, judgedWhenSet, []],
  [
    "every field wrong, in the order path, sha256, bytes",
    { path: "", sha256: SHA.toUpperCase(), bytes: 1.5 },
    judgedWhenSet,
    [
      { field: "path", value: "", rule: "must be the path of the zip" },
      { field: "sha256", value: SHA.toUpperCase(), rule: "must be 64 lowercase hex characters" },
      {
        field: "bytes",
        value: 1.5,
        rule: "must be the zip's size in bytes (a positive whole number)",
      },
    ],
  ],
  [
    "an empty zip has no size",
    { ...GOOD, bytes: 0 },
    judgedWhenSet,
    [
      {
        field: "bytes",
        value: 0,
        rule: "must be the zip's size in bytes (a positive whole number)",
      },
    ],
  ],
  [
    "fields not known yet are not judged",
    { bytes: "later" },
    (v) => v !== "later" && v !== undefined,
    [],
  ],
  [
    "a missing field, when judged, fails",
    { sha256: SHA, bytes: 1 },
    () => true,
    [{ field: "path", value: undefined, rule: "must be the path of the zip" }],
  ],
])("%s", (_name, file, judged, failures) => {
  expect(packageFileFailures(file, judged)).toEqual(failures);
});
