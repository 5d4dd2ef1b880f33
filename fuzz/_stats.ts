import fc from "fast-check";
import { predict, usageBody } from "./props/usage-body";
const samples = fc.sample(usageBody.arbitrary(), { numRuns: 3000, seed: 7 });
const h: Record<string, number> = {};
const inc = (k: string) => (h[k] = (h[k] ?? 0) + 1);
for (const c of samples) {
  const p = predict(c);
  inc(`${c.sse ? "sse" : "json"} ${p.expected > 0n ? "charged" : p.expected === 0n ? "zero" : "unmodelled"}${p.fromLog ? " log" : ""}`);
  if (p.body.length > 60000) inc("big");
}
console.log(h);
