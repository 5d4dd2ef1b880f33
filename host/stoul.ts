// Numbers Higress's Envoy reads from strings with std::stoul into 32 bits: the set_*_buffer_limit
// properties (context.cc stringViewToUint32) and the Redis cluster name's buffer options
// (envoy/redis/async_client.h parseUint32FromParams; see redis-connection.ts).

/**
 * std::stoul as those callers use it: leading blanks, a sign, decimal
 * digits, anything after them ignored; the value must fit in 32 bits. Null when it does not parse.
 */
export function parseUint32Like(value: string): number | null {
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d+)/.exec(value);
  if (m === null) return null;
  let n = BigInt(m[2]);
  if (m[1] === "-") n = BigInt.asUintN(64, -n); // stoul negates in unsigned long
  return n <= 0xffffffffn ? Number(n) : null;
}

