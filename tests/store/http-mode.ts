// setupFiles of the jest project "envoy-build": runs before each test file loads, so that
// tests/quota/fixture.ts picks the plain-Envoy build and the HTTP quota store (see the fixture).
process.env.AI_QUOTA_STORE = "http";
