// Every fuzz property, in round-robin order.
import { FuzzProperty } from "./property";
import { adminForm } from "./props/admin-form";
import { bedrockProperty } from "./props/bedrock";
import { config } from "./props/config";
import { eventStreamProperty } from "./props/event-stream";
import { headers } from "./props/headers";
import { parsersProperty } from "./props/parsers";
import { requestBody } from "./props/request-body";
import { requestVerdict } from "./props/request-verdict";
import { respReply } from "./props/resp-reply";
import { responseProperty } from "./props/response";
import { selfHosted } from "./props/self-hosted";
import { tiersConfig } from "./props/tiers-config";
import { usageBody } from "./props/usage-body";
import { usageQuery } from "./props/usage-query";

export const PROPERTIES: FuzzProperty[] = [respReply, adminForm, usageBody, config, headers, parsersProperty, requestBody, requestVerdict, responseProperty, bedrockProperty, eventStreamProperty, tiersConfig, selfHosted, usageQuery];

export function findProperty(name: string): FuzzProperty {
  const p = PROPERTIES.find((x) => x.name === name);
  if (p === undefined) throw new Error(`no fuzz property named ${name}; known: ${PROPERTIES.map((x) => x.name).join(", ")}`);
  return p;
}
