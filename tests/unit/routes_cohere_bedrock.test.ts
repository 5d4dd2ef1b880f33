// Cohere v2 and Bedrock runtime paths through build/test/routes.wasm: metered by default, each with
// its ApiKind, whatever spelling the model id in a Bedrock path takes (`:` raw or escaped, dots).
import { loadParsers } from "./parsers_module";

const m = loadParsers("routes");
afterEach(() => expect(m.logs).toEqual([]));

const configure = (suffixes: unknown[] | null): string => m.text("routes_config", `${suffixes === null ? "" : JSON.stringify(suffixes)}\u0000/quota`);
const route = (target: string): { operation: string; api: string } => m.json("route", target);

beforeEach(() => expect(configure(null)).not.toMatch(/error/i));

const MODELS = [
  "anthropic.claude-3-5-sonnet-20240620-v1:0",
  "anthropic.claude-3-5-sonnet-20240620-v1%3A0",
  "anthropic.claude-3-5-sonnet-20240620-v1%3a0",
  "us.anthropic.claude-3-7-sonnet-20250219-v1%253A0",
  "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.meta.llama3-2-1b-instruct-v1%3A0",
  "cohere.command-r-v1:0",
];

test.each([
  ["/v2/chat", "cohere-chat"],
  ["/v2/chat?x=1", "cohere-chat"],
  ["/compatibility/../v2/chat", "cohere-chat"],
  ["/V2/Chat", "cohere-chat"],
  ["/v2/embed", "cohere-embed"],
  ["/v2/ch%61t", "cohere-chat"],
])("%j is metered as %s", (target, api) => {
  expect(route(target)).toMatchObject({ operation: "metered", api });
});

describe.each(MODELS)("Bedrock model id %s", (model) => {
  test.each([
    ["invoke", "bedrock-invoke"],
    ["invoke-with-response-stream", "bedrock-invoke-stream"],
    ["converse", "bedrock-converse"],
    ["converse-stream", "bedrock-converse-stream"],
    ["Converse-Stream/", "bedrock-converse-stream"],
  ])("/model/<id>/%s is metered as %s", (op, api) => {
    expect(route(`/model/${model}/${op}`)).toMatchObject({ operation: "metered", api });
  });
});

test.each([["/v2/models"], ["/v1/chat"], ["/v2/rerank"], ["/model/x/invokes"], ["/model/x/invoke/x"], ["/model/x/converse-streamx"]])(
  "%j is not metered by default", (target) => {
    expect(route(target)).toMatchObject({ operation: "none" });
  });
