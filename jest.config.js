/**
 * Jest runs TypeScript through ts-jest; `npm test` (scripts/test.js) prepares TLS for the
 * stand-ins. ts-jest only transpiles (tsconfig.json sets isolatedModules): the type check is
 * `npm run typecheck`, which CI runs, so the suite does not pay for it once per file.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS config file
const path = require("node:path");

// `npm test` points TMPDIR at the run's own folder (scripts/test.js): jest's transform cache, which
// is meant to outlive a run, stays where jest keeps it by default, in the temp directory itself.
const shared = process.env.HPC_BATCH_TEST_SHARED_TMP;

module.exports = {
  preset: "ts-jest",
  ...(shared
    ? {
        cacheDirectory: path.join(
          shared,
          process.getuid ? `jest_${process.getuid().toString(36)}` : "jest",
        ),
      }
    : {}),
  testEnvironment: "node",
  roots: ["<rootDir>/tests"],
  testMatch: ["**/*.test.ts"],
  testTimeout: 60000,
  transform: { "^.+\\.ts$": ["ts-jest", {}] },
  // @pulumi/pulumi requires @npmcli/arborist and typescript when it loads, and uses them only to
  // serialize functions; jest evaluates them again in every file and fresh module registry (about
  // 2.5 s in each file and 0.5 s in each registry of a file that runs Pulumi). They are loaded on
  // first use instead (tests/support/lazy/): the same modules, later.
  moduleNameMapper: {
    "^@npmcli/arborist$": "<rootDir>/tests/support/lazy/arborist.ts",
    "^typescript$": "<rootDir>/tests/support/lazy/typescript.ts",
  },
  // Stages hpc-application once, before the workers race to stage it (see the file).
  globalSetup: "<rootDir>/tests/support/globalSetup.ts",
  // Pulumi's debug-only stack trace of every promise, kept unmapped (see the file).
  setupFilesAfterEnv: ["<rootDir>/tests/support/jestSetup.ts"],
  // Jest's default is one worker per core but one, which on a 2-core runner is a single worker.
  // The files spend much of their time waiting on child processes (Azurite, git, zip, ffmpeg)
  // and sockets, so one worker per core keeps both cores busy: about half the wall time.
  maxWorkers: "100%",
  // A worker grows with each test file: it took 0.6-0.8 s to end at 1.1 GB, past jest's 0.5 s, so
  // every full run ended with "A worker process has failed to exit gracefully". Part of the growth
  // was Pulumi's inspector sessions (tests/support/jestSetup.ts, now closed after each file: 620 MB
  // after 38 files before, about 450 MB after); a worker above 400 MB after a file is replaced
  // (jest's setting for this). Measured on 2 idle cores before the sessions were closed, two runs
  // each: 85.7 and 82.9 s without the warning, against 89.5 and 88.8 s with it (500 MB: 81.8 and
  // 82.4 s, one warning; 350 MB: 92.1 s); with both, 76.1 and 78.8 s wall, no warning.
  // Only for the whole suite (scripts/test.js): with a limit set, jest never runs a single file in
  // its own process, and `npm test -- one.test.ts` would start workers for it.
  ...(process.env.HPC_BATCH_TEST_WHOLE_SUITE ? { workerIdleMemoryLimit: "400MB" } : {}),
  reporters: ["default", "<rootDir>/scripts/summary-reporter.js"],
};
