// The plugin's verdict on a streaming chat request, against how its upstreams will read it
// (fuzz/model/upstream-json.ts: Python json + pydantic lax, Go encoding/json): request spellings
// (stream and include_usage as bools, ints, floats, pydantic's strings, null; case variants of the
// keys; duplicates; stream_options null or empty; NaN/Infinity before stream; UTF-8 with a BOM,
// UTF-16 and UTF-32 with and without one; bytes after the document) × every split point in two.
// What must hold, for each upstream: either the plugin refuses the request while the chunk that
// shows why is still held (before the root's close has gone upstream), or the body the upstream
// gets, read its way, does not stream without include_usage; and when it streams with usage the
// client did not ask for, the plugin hides it (injected).
import fc from "fast-check";
import { RequestBodyModule, loadRequestBody } from "../../tests/unit/request_body_module";
import { FuzzEnv } from "../env";
import { goReads, pythonReads } from "../model/upstream-json";
import { defineProperty, expectThat } from "../property";

interface VerdictCase {
  members: string[];
  encoding: "utf8" | "utf8-bom" | "utf16le" | "utf16be" | "utf16le-bom" | "utf32le";
  trailing: string;
}

const BOOLS = ["true", "false", "null", "1", "0", "1.0", "0.0", '"true"', '"false"', '"no"', '"off"', '"f"', '"n"', '"0"', '"OFF"', '"False"', '"yes"', '"on"', '"1"', '"x"', "2"];
const streamKey = fc.constantFrom('"stream"', '"stream"', '"stream"', '"Stream"', '"STREAM"', '"\\u0073tream"');
const member = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(streamKey, fc.constantFrom(...BOOLS)).map(([k, v]) => `${k}:${v}`) },
  {
    weight: 4,
    arbitrary: fc.oneof(
      fc.constantFrom("null", "{}", '{"x":1}', "[]"),
      fc.tuple(fc.constantFrom('"include_usage"', '"include_usage"', '"Include_Usage"'), fc.constantFrom(...BOOLS)).map(([k, v]) => `{${k}:${v}}`),
    ).chain((so) => fc.constantFrom('"stream_options"', '"stream_options"', '"Stream_Options"').map((k) => `${k}:${so}`)),
  },
  { weight: 2, arbitrary: fc.constantFrom('"temperature":NaN', '"top_p":Infinity', '"seed":-Infinity', '"model":"m"', '"messages":[{"role":"user","content":"hi"}]') },
);
const verdictCase: fc.Arbitrary<VerdictCase> = fc.record({
  members: fc.array(member, { minLength: 1, maxLength: 4 }),
  encoding: fc.constantFrom("utf8", "utf8", "utf8", "utf8-bom", "utf16le", "utf16be", "utf16le-bom", "utf32le"),
  trailing: fc.constantFrom("", "", "", " x", "{}", "\n"),
});

function encode(text: string, enc: VerdictCase["encoding"]): Buffer {
  switch (enc) {
    case "utf8": return Buffer.from(text, "utf8");
    case "utf8-bom": return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, "utf8")]);
    case "utf16le": return Buffer.from(text, "utf16le");
    case "utf16le-bom": return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]);
    case "utf16be": return Buffer.from(text, "utf16le").swap16();
    case "utf32le": {
      const out = Buffer.alloc(text.length * 4);
      for (let i = 0; i < text.length; i++) out.writeUInt32LE(text.charCodeAt(i), i * 4);
      return out;
    }
  }
}

const SYNTAX = 1;

let instance: RequestBodyModule | null = null;
function reader(): RequestBodyModule {
  if (instance === null) instance = loadRequestBody();
  return instance;
}

export const requestVerdict = defineProperty<VerdictCase>({
  name: "request-verdict",
  description: "streaming chat requests × every split point: refused in time, or read by every upstream as asking for usage (hidden when we asked)",
  arbitrary: () => verdictCase,
  async check(_env: FuzzEnv, c: VerdictCase): Promise<void> {
    const root = `{${c.members.join(",")}}`;
    const body = Buffer.concat([encode(root, c.encoding), Buffer.from(c.trailing, "utf8")]);
    // Where the root's '}' is when nothing before it faults (UTF-8 bodies): a fault after it in a
    // later chunk comes after the document went upstream and cannot be refused.
    const rootEnd = c.encoding === "utf8" ? Buffer.byteLength(root) - 1 : c.encoding === "utf8-bom" ? Buffer.byteLength(root) + 2 : -1;
    const m = reader();
    for (let cut = 0; cut <= body.length; cut++) {
      const r = m.rewrite(body, true, cut === 0 ? [] : [cut]);
      expectThat(m.logs.length === 0, () => `the reader logged ${m.logs.join(" | ")}`);
      const cannot = (m.exports as any).last_cannot_ask_usage() === 1;
      const lateTrailing = rootEnd >= 0 && c.trailing.trim() !== "" && cut > rootEnd && r.unreadable === SYNTAX;
      const refusedInTime = cannot || (r.unreadable !== 0 && !lateTrailing);
      if (refusedInTime) continue;
      for (const [name, reads] of [["python", pythonReads], ["go", goReads]] as const) {
        const u = reads(r.body);
        const where = () => `${name} upstream, cut at ${cut}: ${JSON.stringify(r.body.toString("latin1"))} (unreadable ${r.unreadable}, injected ${r.injected}, usageAsked ${r.usageAsked})`;
        if (!u.ok || !u.stream) continue;
        expectThat(u.includeUsage, () => `streams without include_usage: ${where()}`);
        expectThat(r.injected || r.usageAsked, () => `usage the client did not ask for, not hidden: ${where()}`);
      }
    }
  },
});
