// The Lua scripts ai-quota runs in Redis. Each touches only one consumer's keys, which share a
// hash slot (see windows.ts), so they are safe on a Redis Cluster. The SHA-1 constants are checked
// by the tests against the scripts the plugin sends with EVAL after a NOSCRIPT.

// Admission with a reservation. KEYS[1]: the balance (an integer string, Higress's format).
// ARGV[1]: the reservation; ARGV[2]: the least balance that admits.
// Reply: {1, balance after} admitted; {0, balance} too low; {-1, 0} no key; {-2, 0} not an integer.
export const ADMIT_SCRIPT = `-- ai-quota admission
local v = redis.call("GET", KEYS[1])
if not v then return {-1, 0} end
if not string.match(v, "^-?%d+$") then return {-2, 0} end
local balance = tonumber(v)
if balance < tonumber(ARGV[2]) then return {0, v} end
local r = tonumber(ARGV[1])
if r > 0 then return {1, redis.call("DECRBY", KEYS[1], ARGV[1])} end
return {1, v}
`;
export const ADMIT_SCRIPT_SHA = "8581ecee1dff259599e6f650a9568f12070879d3";

// Admission with windows. KEYS[1]: the balance; KEYS[2..]: one key per window.
// ARGV[1]: "1" to check the balance; ARGV[2]: the reservation; ARGV[3]: the least balance;
// then per window: unit ("r" requests, "t" tokens), limit, seconds until the window ends.
// Nothing is written unless every check passes: a rejected request consumes nothing.
// Reply: as ADMIT_SCRIPT, or {-3, window index (1-based), used} when a window is full.
export const WINDOW_ADMIT_SCRIPT = `-- ai-quota admission with windows
local n = #KEYS - 1
for i = 1, n do
  local unit, limit = ARGV[3 * i + 1], tonumber(ARGV[3 * i + 2])
  local used = tonumber(redis.call("GET", KEYS[i + 1]) or "0") or 0
  if (unit == "r" and used + 1 > limit) or (unit == "t" and used >= limit) then return {-3, i, used} end
end
local reserve = tonumber(ARGV[2])
local balance = 0
if ARGV[1] == "1" then
  local v = redis.call("GET", KEYS[1])
  if not v then return {-1, 0} end
  if not string.match(v, "^-?%d+$") then return {-2, 0} end
  if tonumber(v) < tonumber(ARGV[3]) then return {0, v} end
  if reserve > 0 then balance = redis.call("DECRBY", KEYS[1], ARGV[2]) else balance = v end
end
for i = 1, n do
  local unit, ttl = ARGV[3 * i + 1], tonumber(ARGV[3 * i + 3])
  local add = 1
  if unit == "t" then add = reserve end
  if add > 0 then
    redis.call("INCRBY", KEYS[i + 1], add)
    if redis.call("TTL", KEYS[i + 1]) < 0 then redis.call("EXPIRE", KEYS[i + 1], ttl) end
  end
end
return {1, balance}
`;
export const WINDOW_ADMIT_SCRIPT_SHA = "f0429e571e0579ce80dd69e55d34163d71765c38";

// Settlement, once. KEYS[1]: the balance; KEYS[2]: this settlement's marker; KEYS[3..]: token windows.
// ARGV[1]: what to add to the balance ("0": nothing); ARGV[2]: seconds the marker lives ("0": no
// marker); then per window: what to add, seconds left (0 or less: the window is over, leave it
// alone — writing would revive a key without expiry). A settlement sent again after a lost reply
// finds its marker and changes nothing: retries cannot charge twice.
export const SETTLE_SCRIPT = `-- ai-quota settlement
if ARGV[2] ~= "0" and not redis.call("SET", KEYS[2], "1", "NX", "EX", ARGV[2]) then return 0 end
if ARGV[1] ~= "0" then redis.call("INCRBY", KEYS[1], ARGV[1]) end
for i = 3, #KEYS do
  local add, ttl = ARGV[2 * i - 3], tonumber(ARGV[2 * i - 2])
  if add ~= "0" and ttl > 0 then
    redis.call("INCRBY", KEYS[i], add)
    if redis.call("TTL", KEYS[i]) < 0 then redis.call("EXPIRE", KEYS[i], ttl) end
  end
end
return 1
`;
export const SETTLE_SCRIPT_SHA = "6ef58fa2b5c3761017ad069e5babc6044a307bda";
