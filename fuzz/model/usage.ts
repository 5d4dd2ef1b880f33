// A reference model of what token usage a response body carries, for bodies the fuzzer builds
// itself as JSON trees: the trees are serialized here, and the same walk records which counts
// the plugin's documented paths pick up (assembly/usage/paths.ts header comment):
//   usage.{prompt_tokens,input_tokens} → input; usage.{completion_tokens,output_tokens} → output;
//   usage.cache_{creation,read}_input_tokens → input, added; the same under response./message.;
//   usageMetadata.promptTokenCount (+ toolUsePromptTokenCount) → input; .candidatesTokenCount/.thoughtsTokenCount → output;
// at a root object (the top-level object, or each object element of a top-level array); and the
// self-hosted servers' counts: root.{prompt_eval_count,tokens_evaluated} → input,
// root.{eval_count,tokens_predicted} → output, details.generated_tokens → output,
// details.prompt_tokens → input, meta_info.{prompt_tokens → input, completion_tokens → output}.
// (TGI's details.prefill, counted by its length, is left to tests/unit and tests/quota.)
// A count is a JSON integer literal without sign that fits in i64; anything else is ignored.
// Each pick is tagged with the byte offset where it becomes visible: the first '}' after it that
// closes a usage, details, meta_info, wrapper or root object (plain JSON bodies commit there; picks
// are applied in the order they were written); SSE events commit once complete and valid.
import { I64_MAX, saturatingAdd } from "./text";

/** A JSON value with its literals kept as written (so numbers beyond 64 bits stay exact). */
export type J =
  | { t: "lit"; text: string }
  | { t: "obj"; entries: Array<{ key: string; raw?: string; value: J }> }
  | { t: "arr"; items: J[] }
  /** Bytes inserted as they are (corruption); `bytes` is latin1, one char per byte. */
  | { t: "junk"; bytes: string }
  /** `depth` arrays nested around the literal 1 (kept flat, so deep values cost no recursion). */
  | { t: "deep"; depth: number };

export const lit = (text: string): J => ({ t: "lit", text });

export const obj = (entries: Array<[string, J] | { key: string; raw?: string; value: J }>): J => ({
  t: "obj",
  entries: entries.map((e) => (Array.isArray(e) ? { key: e[0], value: e[1] } : e)),
});

/** A tree for a JS value (numbers and strings written as JSON.stringify writes them). */
export function fromJs(v: unknown): J {
  if (Array.isArray(v)) return { t: "arr", items: v.map(fromJs) };
  if (v !== null && typeof v === "object") return obj(Object.entries(v).map(([k, x]) => [k, fromJs(x)] as [string, J]));
  return lit(JSON.stringify(v) ?? "null");
}

export type Slot = "input" | "cacheCreation" | "cacheRead" | "output" | "thoughts" | "toolUse";

export interface Pick {
  slot: Slot;
  value: bigint;
  /** Offset (in the serialized bytes) of the '}' that commits it in a plain JSON body. */
  commitAt: number;
}

export interface Serialized {
  bytes: Buffer;
  picks: Pick[];
  /** Offset of the first byte the tokenizer must reject (junk, or nesting past maxDepth); -1 when none. */
  errorAt: number;
  /** Offset of the last byte of the top-level value(s). */
  lastValueByte: number;
}

const USAGE_SLOTS: Record<string, Slot> = {
  prompt_tokens: "input",
  input_tokens: "input",
  completion_tokens: "output",
  output_tokens: "output",
  cache_creation_input_tokens: "cacheCreation",
  cache_read_input_tokens: "cacheRead",
};
const GEMINI_SLOTS: Record<string, Slot> = {
  promptTokenCount: "input",
  candidatesTokenCount: "output",
  thoughtsTokenCount: "thoughts",
  toolUsePromptTokenCount: "toolUse",
};

const ROOT_SLOTS: Record<string, Slot> = {
  prompt_eval_count: "input",
  tokens_evaluated: "input",
  eval_count: "output",
  tokens_predicted: "output",
};
const DETAILS_SLOTS: Record<string, Slot> = { generated_tokens: "output", prompt_tokens: "input" };
const META_INFO_SLOTS: Record<string, Slot> = { prompt_tokens: "input", completion_tokens: "output" };
const SLOTS_OF: Partial<Record<Role, Record<string, Slot>>> = {
  usage: USAGE_SLOTS, gemini: GEMINI_SLOTS, root: ROOT_SLOTS, details: DETAILS_SLOTS, metaInfo: META_INFO_SLOTS,
};

type Role = "other" | "root" | "rootArray" | "wrapper" | "usage" | "gemini" | "details" | "metaInfo";

/** The plugin's count rule on a number literal. */
export function countOf(text: string): bigint | null {
  if (!/^(0|[1-9][0-9]*)$/.test(text) || text.length > 512) return null;
  const v = BigInt(text);
  return v > I64_MAX ? null : v;
}

/**
 * Serializes trees one after another (separated by `gap`), with `ws(i)` inserted at the i-th
 * token boundary (whitespace, or "\n" where SSE splits data lines), and records the picks.
 */
export function serialize(docs: J[], options: { gap?: string; ws?: (i: number) => string; maxDepth?: number } = {}): Serialized {
  const parts: Buffer[] = [];
  let offset = 0;
  let boundary = 0;
  let depth = 0;
  let errorAt = -1;
  let lastValueByte = -1;
  const picks: Pick[] = [];
  const maxDepth = options.maxDepth ?? 1024;
  const put = (s: string, latin1 = false) => {
    const b = Buffer.from(s, latin1 ? "latin1" : "utf8");
    parts.push(b);
    offset += b.length;
  };
  const ws = () => put(options.ws?.(boundary++) ?? "");

  // `open` collects the picks, in the order written, until a committing '}' gives them its offset.
  const open: Array<Omit<Pick, "commitAt">> = [];
  const walk = (v: J, role: Role, key: string | null, pending: Array<Omit<Pick, "commitAt">> | null): void => {
    switch (v.t) {
      case "junk":
        if (errorAt < 0) errorAt = offset;
        put(v.bytes, true);
        return;
      case "deep": {
        if (depth + v.depth > maxDepth && errorAt < 0) errorAt = offset + (maxDepth - depth);
        put("[".repeat(v.depth) + "1" + "]".repeat(v.depth));
        return;
      }
      case "lit": {
        if (pending !== null && key !== null) {
          const table = SLOTS_OF[role];
          const slot = table !== undefined && Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined;
          const n = slot === undefined ? null : countOf(v.text);
          if (slot !== undefined && n !== null) pending.push({ slot, value: n });
        }
        put(v.text);
        return;
      }
      case "arr": {
        depth++;
        if (depth > maxDepth && errorAt < 0) errorAt = offset;
        const childRole: Role = role === "rootArray" ? "root" : "other";
        put("[");
        v.items.forEach((item, i) => {
          if (i > 0) put(",");
          ws();
          // Elements of a top-level array are roots only when they are objects.
          walk(item, item.t === "obj" ? childRole : "other", null, null);
          ws();
        });
        put("]");
        depth--;
        return;
      }
      case "obj": {
        depth++;
        if (depth > maxDepth && errorAt < 0) errorAt = offset;
        const mine: Array<Omit<Pick, "commitAt">> | null = role === "other" || role === "rootArray" ? null : open;
        put("{");
        v.entries.forEach((e, i) => {
          if (i > 0) put(",");
          ws();
          put(e.raw ?? JSON.stringify(e.key));
          ws();
          put(":");
          ws();
          let childRole: Role = "other";
          if (e.value.t === "obj") {
            if (role === "root") {
              childRole = e.key === "usage" ? "usage" : e.key === "usageMetadata" ? "gemini" : e.key === "response" || e.key === "message" ? "wrapper"
                : e.key === "details" ? "details" : e.key === "meta_info" ? "metaInfo" : "other";
            }
            else if (role === "wrapper" && e.key === "usage") childRole = "usage";
          }
          // A literal is read in this object's role; a nested container gets its own.
          walk(e.value, e.value.t === "obj" ? childRole : role, e.key, mine);
          ws();
        });
        const closeAt = offset;
        put("}");
        depth--;
        if (mine !== null) for (const p of open.splice(0)) picks.push({ ...p, commitAt: closeAt });
        return;
      }
    }
  };

  docs.forEach((d, i) => {
    if (i > 0) put(options.gap ?? "\n");
    walk(d, d.t === "obj" ? "root" : d.t === "arr" ? "rootArray" : "other", null, null);
    lastValueByte = offset - 1;
  });
  return { bytes: Buffer.concat(parts), picks, errorAt, lastValueByte };
}

export interface Usage {
  found: boolean;
  slots: Partial<Record<Slot, bigint>>;
}

export function emptyUsage(): Usage {
  return { found: false, slots: {} };
}

/** Applies committed picks in order (a later value of a slot replaces an earlier one). */
export function commit(u: Usage, picks: Pick[]): void {
  for (const p of picks) {
    u.slots[p.slot] = p.value;
    u.found = true;
  }
}

/** What the plugin charges for a usage: input + output, saturating; nothing when not found or 0. */
export function chargeOf(u: Usage): bigint {
  if (!u.found) return 0n;
  const s = u.slots;
  const { input, output } = sidesOf(u);
  const total = saturatingAdd(input, output);
  return total > 0n ? total : 0n;
}

/** The input and output a usage charges (0 and 0 when nothing was found). */
export function sidesOf(u: Usage): { input: bigint; output: bigint } {
  if (!u.found) return { input: 0n, output: 0n };
  const s = u.slots;
  const input = saturatingAdd(saturatingAdd(saturatingAdd(s.input ?? 0n, s.cacheCreation ?? 0n), s.cacheRead ?? 0n), s.toolUse ?? 0n);
  return { input, output: saturatingAdd(s.output ?? 0n, s.thoughts ?? 0n) };
}
