// The local gateway (`npm start` with examples/local.yaml) as the native-API gateway tests use it:
// started once per file, consumer1's balance set and read through the admin API, and one POST
// charged: the whole answer read (or what a cut leaves), then the access line waited for, so the
// settlement has landed before the balance is read.
import { GatewayProcess } from "./gateway-process";
import { send } from "./http-client";

export const START = 100_000;
export const ADMIN = { authorization: "Bearer credential3" };
export const USER = { authorization: "Bearer credential1", "content-type": "application/json" };
const QUOTA = "/v1/chat/completions/quota";

export interface LocalSession {
  readonly gw: GatewayProcess;
  setBalance(n: number): Promise<void>;
  balance(): Promise<number>;
  charged(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; text: string; charged: number }>;
}

/** Registers beforeAll/afterAll that start and stop the gateway; the session's methods use it. */
export function localGateway(): LocalSession {
  let gw: GatewayProcess | undefined;
  beforeAll(async () => {
    gw = await GatewayProcess.launch(["--config", "examples/local.yaml", "--port", "0"]);
  }, 60_000);
  afterAll(async () => {
    await gw?.stop();
    gw?.kill();
  });
  const running = (): GatewayProcess => {
    if (gw === undefined) throw new Error("the local gateway is not running");
    return gw;
  };
  const session: LocalSession = {
    get gw() { return running(); },
    async setBalance(n) {
      const r = await send(running().url + QUOTA + "/refresh", { headers: { ...ADMIN, "content-type": "application/x-www-form-urlencoded" }, body: `consumer=consumer1&quota=${n}` });
      expect(r.status).toBe(200);
    },
    async balance() {
      const r = await send(running().url + QUOTA + "?consumer=consumer1", { headers: ADMIN });
      return JSON.parse(r.body).quota;
    },
    async charged(path, body, headers = {}) {
      await session.setBalance(START);
      const g = running();
      const from = g.lines.length;
      const res = await fetch(g.url + path, { method: "POST", headers: { ...USER, ...headers }, body: JSON.stringify(body) });
      const decoder = new TextDecoder();
      let text = "";
      try {
        for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) text += decoder.decode(piece, { stream: true });
      } catch {
        // a cut stream: what arrived before the cut is kept; the client's error is not what is tested
      }
      await g.waitForLine(new RegExp(`^POST ${path} \\S+ consumer1( |$)`), 10_000, from);
      return { status: res.status, text, charged: START - (await session.balance()) };
    },
  };
  return session;
}
