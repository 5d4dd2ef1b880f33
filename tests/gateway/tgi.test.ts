// TGI's native API (gateway/mock-tgi.ts) through `npm start` (examples/local.yaml) with plain fetch
// (TGI has no official npm client of its own): /generate with `decoder_input_details` charged
// exactly the prefill length + details.generated_tokens; /generate with `details` only and
// /generate_stream with `details` pay generated_tokens plus the estimated input (TGI reports no
// input count there); without `details` TGI reports nothing and the answer is estimated, never
// free; at balance 0 the plugin's 403.
import { USER, localGateway } from "./local-session";

const INPUTS = "Say hello to the quota gateway";
const WORDS = 6;
const session = localGateway();
const { setBalance, balance, charged } = session;

function events(text: string): Array<Record<string, unknown>> {
  return text.split("\n").filter((l) => l.startsWith("data:")).map((l) => JSON.parse(l.slice(5)));
}

describe("TGI through the gateway (fetch)", () => {
  test("/generate with decoder_input_details: charged prefill length + generated_tokens exactly", async () => {
    const r = await charged("/generate", { inputs: INPUTS, parameters: { max_new_tokens: 5, details: true, decoder_input_details: true } });
    expect(r.status).toBe(200);
    const answer = JSON.parse(r.text);
    expect(answer.generated_text).toBe("lorem lorem lorem lorem lorem");
    expect(answer.details.generated_tokens).toBe(5);
    expect(answer.details.prefill.length).toBe(WORDS);
    expect(r.charged).toBe(WORDS + 5);
  });

  test("/generate with details only: generated_tokens plus an estimated input", async () => {
    const r = await charged("/generate", { inputs: INPUTS, parameters: { max_new_tokens: 5, details: true } });
    const answer = JSON.parse(r.text);
    expect(answer.details.prefill).toEqual([]);
    expect(answer.details.generated_tokens).toBe(5);
    expect(r.charged).toBeGreaterThan(5);
  });

  test("/generate without details: TGI reports nothing, the answer is estimated, never free", async () => {
    const r = await charged("/generate", { inputs: INPUTS, parameters: { max_new_tokens: 5 } });
    expect(JSON.parse(r.text)).toEqual({ generated_text: "lorem lorem lorem lorem lorem" });
    expect(r.charged).toBeGreaterThan(0);
  });

  test("/generate_stream with details: details only in the last event; generated_tokens plus estimated input", async () => {
    const r = await charged("/generate_stream", { inputs: INPUTS, parameters: { max_new_tokens: 4, details: true } });
    const e = events(r.text);
    expect(e.length).toBe(4);
    expect(e.slice(0, 3).every((x) => x.details === null && x.generated_text === null)).toBe(true);
    expect(e[3]).toMatchObject({ generated_text: "lorem lorem lorem lorem", details: { finish_reason: "length", generated_tokens: 4 } });
    expect(r.charged).toBeGreaterThan(4);
  });

  test("/generate_stream without details: no counts at all, estimated, never free", async () => {
    const r = await charged("/generate_stream", { inputs: INPUTS, parameters: { max_new_tokens: 4 } });
    const e = events(r.text);
    expect(e.every((x) => x.details === null)).toBe(true);
    expect(r.charged).toBeGreaterThan(0);
  });

  test("balance 0: the plugin's 403", async () => {
    await setBalance(0);
    const res = await fetch(session.gw.url + "/generate", { method: "POST", headers: USER, body: JSON.stringify({ inputs: INPUTS, parameters: { details: true } }) });
    expect(res.status).toBe(403);
    await res.text();
    expect(await balance()).toBe(0);
  });
});
