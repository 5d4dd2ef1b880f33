/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/tests"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { isolatedModules: true }] },
  // Each test file starts its own redis-server; two workers fit the 2-core machines we run on.
  maxWorkers: 2,
  testTimeout: 30000,
};
