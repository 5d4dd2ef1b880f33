// setupFiles of the jest project "higress-envoy-1.27": runs before each test file loads, so that
// tests/quota/fixture.ts runs the Higress build in the host's Higress 2.0–2.1 profile
// (higress-group/envoy envoy-1.27; host/higress-profile.ts) instead of Higress 2.2's envoy-1.36.
process.env.AI_QUOTA_HIGRESS_ENVOY = "1.27";
