import fc from "fast-check";
(async () => {
  const r = await fc.check(fc.asyncProperty(fc.array(fc.integer()), async (a) => { await new Promise(r => setTimeout(r, 20)); if (a.length > 3) throw new Error("long " + a.length); }), { seed: 42, numRuns: 100, interruptAfterTimeLimit: 600 });
  console.log(r.failed, r.interrupted, r.numRuns, r.numShrinks, r.counterexample, r.counterexamplePath, r.seed, String(r.errorInstance));
  const r2 = await fc.check(fc.asyncProperty(fc.array(fc.integer()), async (a) => { if (a.length > 3) throw new Error("long " + a.length); }), { seed: 42, numRuns: 100 });
  console.log(r2.failed, r2.counterexample, r2.counterexamplePath);
  const r3 = await fc.check(fc.asyncProperty(fc.array(fc.integer()), async (a) => { if (a.length > 3) throw new Error("long " + a.length); }), { seed: 42, path: r2.counterexamplePath! });
  console.log(r3.failed, r3.counterexample, r3.numRuns);
})();
