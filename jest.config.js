/** Jest runs TypeScript through ts-jest; `npm test` (scripts/test.js) prepares TLS for the stand-ins. */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/tests"],
  testMatch: ["**/*.test.ts"],
  testTimeout: 60000,
  transform: { "^.+\\.ts$": ["ts-jest", {}] },
  reporters: ["default", "<rootDir>/scripts/summary-reporter.js"],
};
