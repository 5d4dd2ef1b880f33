// assembly/quota/weights.ts through build/test/routes.wasm: what a model's tokens cost.
import { loadParsers } from "./parsers_module";

const m = loadParsers("routes");
afterEach(() => expect(m.logs).toEqual([]));

describe("cost weights", () => {
  const weights = JSON.stringify({
    default: { input: 1, output: 2 },
    models: { "gpt-4o": { input: 2.5, output: 10 }, "gpt-4o-mini": { input: 0.15, output: 0.6 }, "o*-mini": { input: 1.1, output: 4.4 }, "Claude-*-Sonnet*": { input: 3, output: 15 } },
  });
  const cost = (reported: string, requested = "", input = 1000, output = 1000): string => {
    const r = m.json("cost", `${weights}\u0000${reported}\u0000${requested}`, BigInt(input), BigInt(output));
    return r.cost ?? r.error;
  };

  test.each([
    ["gpt-4o", "", "12500"],
    ["gpt-4o-2024-08-06", "", "12500"], // the snapshot OpenAI reports for gpt-4o
    ["GPT-4O-2024-08-06", "", "12500"],
    ["gpt-4o-mini-2024-07-18", "", "750"], // the longer listed prefix wins
    ["o3-mini", "", "5500"],
    ["o3-mini-2025-01-31", "", "3000"], // "o*-mini" is a pattern, anchored at its end
    ["claude-3-5-sonnet-20241022", "", "18000"],
    ["gpt-4", "", "3000"], // unlisted: the default weight
    ["", "", "3000"],
    ["", "gpt-4o", "12500"], // no reported model: the request's
    ["gpt-4o-mini", "gpt-4o", "750"], // the reported model wins over the request's
    ["CLAUDE-3-OPUS-SONNET", "", "18000"], // patterns compare without regard to ASCII case too
  ])("reported %j, requested %j → %s", (reported, requested, want) => {
    expect(cost(reported, requested)).toBe(want);
  });
});

test("only ASCII letters fold: a non-ASCII capital is its own name", () => {
  const weights = JSON.stringify({ default: { input: 1, output: 1 }, models: { "\u00e9t\u00e9": { input: 5, output: 5 } } });
  const cost = (model: string): string => {
    const r = m.json("cost", `${weights}\u0000${model}\u0000`, 10n, 10n);
    return r.cost ?? r.error;
  };
  expect(cost("\u00e9T\u00c9")).toBe("20"); // É is not é here: the default weight
  expect(cost("\u00e9T\u00e9")).toBe("100"); // T is t
});
