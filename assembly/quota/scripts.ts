// The Lua scripts ai-quota runs in Redis. Each touches only one consumer's keys, which share a
// hash slot (see windows.ts), so they are safe on a Redis Cluster. The SHA-1 constants are checked
// by the tests against the scripts the plugin sends with EVAL after a NOSCRIPT.

// Admission with a reservation. KEYS[1]: the balance (an integer string, Higress's format);
// KEYS[2]: this request's marker. ARGV[1]: the reservation; ARGV[2]: the least balance that admits;
// ARGV[3]: seconds the marker lives ("0": no marker). The marker says "this admission happened":
// the settlement deletes it and applies only if it was there, so a settlement sent twice, or a
// release for an admission whose reply was lost, can never count twice or count what never was.
// Reply: {1, balance after} admitted; {0, balance} too low; {-1, 0} no key; {-2, 0} not an integer.
export const ADMIT_SCRIPT = `-- ai-quota admission
local v = redis.call("GET", KEYS[1])
if not v then return {-1, 0} end
if not string.match(v, "^-?%d+$") then return {-2, 0} end
if tonumber(v) < tonumber(ARGV[2]) then return {0, v} end
if ARGV[3] ~= "0" then redis.call("SET", KEYS[2], "1", "EX", ARGV[3]) end
if tonumber(ARGV[1]) > 0 then return {1, redis.call("DECRBY", KEYS[1], ARGV[1])} end
return {1, v}
`;
export const ADMIT_SCRIPT_SHA = "d369884fab0376dff5c3aa89a215b1a967dedf6c";

// Admission with windows. KEYS[1]: the balance; KEYS[2]: the marker; KEYS[3..]: one key per window.
// ARGV[1]: "1" to check the balance; ARGV[2]: the reservation; ARGV[3]: the least balance;
// ARGV[4]: marker seconds ("0": none); then per window: unit ("r" requests, "t" tokens), limit,
// seconds until the window ends. Nothing is written unless every check passes: a rejected request
// consumes nothing. Reply: as ADMIT_SCRIPT, or {-3, window index (1-based), used} when a window is full.
export const WINDOW_ADMIT_SCRIPT = `-- ai-quota admission with windows
local n = #KEYS - 2
for i = 1, n do
  local unit, limit = ARGV[3 * i + 2], tonumber(ARGV[3 * i + 3])
  local used = tonumber(redis.call("GET", KEYS[i + 2]) or "0") or 0
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
if ARGV[4] ~= "0" then redis.call("SET", KEYS[2], "1", "EX", ARGV[4]) end
for i = 1, n do
  local unit, ttl = ARGV[3 * i + 2], tonumber(ARGV[3 * i + 4])
  local add = 1
  if unit == "t" then add = reserve end
  if add > 0 then
    redis.call("INCRBY", KEYS[i + 2], add)
    if redis.call("TTL", KEYS[i + 2]) < 0 then redis.call("EXPIRE", KEYS[i + 2], ttl) end
  end
end
return {1, balance}
`;
export const WINDOW_ADMIT_SCRIPT_SHA = "0a7af1b3be29eb1ecd2125c8f04a2b99b2519acd";

// Settlement, once. KEYS[1]: the balance; KEYS[2]: the request's marker; KEYS[3..]: windows.
// ARGV[1]: what to add to the balance ("0": nothing); ARGV[2]: "d" to apply only if the admission's
// marker is there (and delete it), a number of seconds to claim a fresh marker (SET NX), or "0"
// for no marker; then per window: what to add, seconds left (0 or less: the window is over, leave
// it alone — writing would revive a key without expiry).
export const SETTLE_SCRIPT = `-- ai-quota settlement
if ARGV[2] == "d" then
  if redis.call("DEL", KEYS[2]) == 0 then return 0 end
elseif ARGV[2] ~= "0" then
  if not redis.call("SET", KEYS[2], "1", "NX", "EX", ARGV[2]) then return 0 end
end
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
export const SETTLE_SCRIPT_SHA = "3d34ed1a208e0379e6854874343fd4a0d34c2515";
