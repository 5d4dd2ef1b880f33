/** @type {import('jest').Config} */
const project = {
  rootDir: __dirname,
  testEnvironment: "node",
  roots: ["<rootDir>/tests"],
  testMatch: ["**/*.test.ts"],
  // Each file transpiled alone (no type check here: `npm run typecheck` does it): ts-jest 29.4
  // takes that from tsconfig.json's `isolatedModules: true` (its own option of that name is deprecated).
  transform: { "^.+\\.ts$": ["ts-jest", {}] },
};

module.exports = {
  // Each test file starts its own redis-server; two workers fit the 2-core machines we run on.
  maxWorkers: 2,
  // A global option (a project's own testTimeout is refused by jest's validation).
  testTimeout: 30000,
  projects: [
    // Everything, against the Higress build (build/ai-quota.wasm, Redis through host calls), in the
    // host's Higress 2.2 profile (higress-group/envoy envoy-1.36).
    { ...project, displayName: "default" },
    // The behaviour tests again, the Higress build in the host's Higress 2.0–2.1 profile (envoy-1.27).
    {
      ...project,
      displayName: "higress-envoy-1.27",
      testMatch: ["<rootDir>/tests/quota/**/*.test.ts"],
      setupFiles: ["<rootDir>/tests/quota/higress-1.27.ts"],
    },
    // The behaviour tests again, against the plain-Envoy build (build/ai-quota-envoy.wasm) with its
    // HTTP quota store: a Redis REST bridge in front of the same redis-server (tests/quota/fixture.ts).
    {
      ...project,
      displayName: "envoy-build",
      testMatch: ["<rootDir>/tests/quota/**/*.test.ts"],
      setupFiles: ["<rootDir>/tests/store/http-mode.ts"],
    },
  ],
};
