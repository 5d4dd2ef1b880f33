// The Lua scripts ai-quota runs in Redis. Each touches only one consumer's keys, which share a
// hash slot (keys.ts), so they are safe on a Redis Cluster. The SHA-1 constants are checked by
// the tests against the scripts the plugin sends with EVAL after a NOSCRIPT.
//
// All or nothing. A Redis script is not rolled back when a command in it fails: whatever it wrote
// before stays. So every script reads and checks everything first — its arguments, and every value
// it will add to — and writes only when nothing can fail any more:
// - an amount (a reservation, a charge, a window's increment) is an integer of at most MAX_AMOUNT
//   either way (the plugin caps what it sends at that, see capAmount);
// - a value it adds to is missing or an integer Redis itself accepts (64-bit, no "+", leading zero
//   or space), and the sum stays inside 64 bits. Lua numbers are doubles, which cannot tell
//   2^63−1 from 2^63: both checks are made on the digits, exactly (a 19-digit value is split into
//   9 and 10 digits, each exact in a double). So a balance of 2^63−1 (an "unlimited" sentinel)
//   is charged and given back like any other, and only an addition that would really overflow is
//   refused.
// The remaining comparisons (balance against the least that admits, a window against its limit)
// are against numbers of at most MAX_AMOUNT, which rounding cannot cross the wrong way. Writes add
// with INCRBY/DECRBY of the argument strings, never of Lua numbers (which Lua prints as 1e+15).
// Redis checks OOM before a script's first write only, never in the middle.

/** The largest amount of tokens one admission or settlement moves: 2^50 (about 1.1e15). */
export const MAX_AMOUNT: i64 = 1 << 50;

/** `v` clamped to [−MAX_AMOUNT, MAX_AMOUNT]. */
export function capAmount(v: i64): i64 {
  if (v > MAX_AMOUNT) return MAX_AMOUNT;
  if (v < -MAX_AMOUNT) return -MAX_AMOUNT;
  return v;
}

// Shared by the scripts. int(s): the integer `s` holds when Redis would accept it, else nil.
// amount(s): an integer of at most MAX either way, else nil. addable(v, a): adding the amount `a`
// to the value `v` (a string int() accepts, or nil for a missing key) stays inside 64 bits.
const PRELUDE = `local MAX = 2^50
local function int(s)
  if type(s) ~= "string" then return nil end
  local neg = string.sub(s, 1, 1) == "-"
  local digits = s
  if neg then digits = string.sub(s, 2) end
  if s ~= "0" and not string.match(digits, "^[1-9]%d*$") then return nil end
  if #digits > 19 or (#digits == 19 and digits > (neg and "9223372036854775808" or "9223372036854775807")) then return nil end
  return tonumber(s)
end
local function amount(s)
  local n = int(s)
  if n and n >= -MAX and n <= MAX then return n end
  return nil
end
local function positive(s)
  local n = int(s)
  return n ~= nil and n > 0
end
local function addable(v, a)
  if not v or a == 0 then return true end
  local neg = string.sub(v, 1, 1) == "-"
  if neg ~= (a < 0) then return true end
  local digits = v
  if neg then digits = string.sub(v, 2) end
  if #digits < 19 then return true end
  local bound = neg and "9223372036854775808" or "9223372036854775807"
  local hi = tonumber(string.sub(bound, 1, 9)) - tonumber(string.sub(digits, 1, 9))
  if hi >= 200000 then return true end
  return hi * 1e10 + (tonumber(string.sub(bound, 10)) - tonumber(string.sub(digits, 10))) >= math.abs(a)
end
`;

// Admission with a reservation. KEYS[1]: the balance (an integer string, Higress's format);
// KEYS[2]: this request's marker. ARGV[1]: the reservation (0..MAX); ARGV[2]: the least balance
// that admits; ARGV[3]: seconds the marker lives ("0": no marker). The marker says "this admission
// happened": the settlement deletes it and applies only if it was there, so a settlement sent
// twice, or a release for an admission whose reply was lost, can never count twice or count what
// never was. Reply: {1, balance after} admitted; {0, balance} too low; {-1, 0} no key;
// {-2, 0} not an integer Redis can take the reservation from; {-4, 0} bad arguments (nothing
// written).
export const ADMIT_SCRIPT = `-- ai-quota admission
` + PRELUDE + `local reserve, least = amount(ARGV[1]), amount(ARGV[2])
if not reserve or reserve < 0 or not least or (ARGV[3] ~= "0" and not positive(ARGV[3])) then return {-4, 0} end
local v = redis.call("GET", KEYS[1])
if not v then return {-1, 0} end
local balance = int(v)
if not balance then return {-2, 0} end
if balance < least then return {0, v} end
if not addable(v, -reserve) then return {-2, 0} end
if ARGV[3] ~= "0" then redis.call("SET", KEYS[2], "1", "EX", ARGV[3]) end
if reserve > 0 then return {1, redis.call("DECRBY", KEYS[1], ARGV[1])} end
return {1, v}
`;
export const ADMIT_SCRIPT_SHA = "2707777f2955a67b10714e435f3ba992632a752a";

// Admission with windows. KEYS[1]: the balance; KEYS[2]: the marker; KEYS[3..n+2]: one key per
// window; KEYS[n+3..2n+2]: each window's soft-limit flag. ARGV[1]: "1" to check the balance;
// ARGV[2]: the reservation; ARGV[3]: the least balance; ARGV[4]: marker seconds ("0": none); then
// per window: unit ("r" requests, "t" tokens), limit, seconds until the window ends, and its soft
// threshold ("0": none). Nothing is written unless every check passes: a rejected request consumes
// nothing. Reply: {1, balance, s1..sn} admitted, where si is 0 below window i's soft threshold, 1 at
// or above it, 2 when this admission is the first to see it there in this window (its flag, which
// lives as long as the window, was set now: so it is said once per window); else as ADMIT_SCRIPT,
// {-3, window index (1-based), used} when a window is full, or {-6, window index} when a window's
// counter is not an integer Redis can add to.
export const WINDOW_ADMIT_SCRIPT = `-- ai-quota admission with windows
` + PRELUDE + `local n = (#KEYS - 2) / 2
local reserve, least = amount(ARGV[2]), amount(ARGV[3])
if n < 0 or n ~= math.floor(n) or #ARGV ~= 4 + 4 * n or not reserve or reserve < 0 or not least or (ARGV[4] ~= "0" and not positive(ARGV[4])) then return {-4, 0} end
local counts = {}
for i = 1, n do
  local unit, limit, soft = ARGV[4 * i + 1], amount(ARGV[4 * i + 2]), amount(ARGV[4 * i + 4])
  if (unit ~= "r" and unit ~= "t") or not limit or limit < 1 or not positive(ARGV[4 * i + 3]) or not soft or soft < 0 then return {-4, 0} end
  local v = redis.call("GET", KEYS[i + 2])
  local used = 0
  if v then used = int(v) end
  if not used then return {-6, i} end
  counts[i] = used
  -- Admitted only below its limit (at most MAX): adding at most MAX stays in range.
  if (unit == "r" and used + 1 > limit) or (unit == "t" and used >= limit) then return {-3, i, v} end
end
local balance = 0
if ARGV[1] == "1" then
  local v = redis.call("GET", KEYS[1])
  if not v then return {-1, 0} end
  local b = int(v)
  if not b then return {-2, 0} end
  if b < least then return {0, v} end
  if not addable(v, -reserve) then return {-2, 0} end
  balance = v
end
if ARGV[4] ~= "0" then redis.call("SET", KEYS[2], "1", "EX", ARGV[4]) end
if ARGV[1] == "1" and reserve > 0 then balance = redis.call("DECRBY", KEYS[1], ARGV[2]) end
local reply = {1, balance}
for i = 1, n do
  local add = "1"
  if ARGV[4 * i + 1] == "t" then add = ARGV[2] end
  if add ~= "0" then
    counts[i] = redis.call("INCRBY", KEYS[i + 2], add)
    if redis.call("TTL", KEYS[i + 2]) < 0 then redis.call("EXPIRE", KEYS[i + 2], ARGV[4 * i + 3]) end
  end
  local state = 0
  local soft = tonumber(ARGV[4 * i + 4])
  if soft > 0 and counts[i] >= soft then
    state = 1
    if redis.call("SET", KEYS[n + i + 2], "1", "NX", "EX", ARGV[4 * i + 3]) then state = 2 end
  end
  reply[i + 2] = state
end
return reply
`;
export const WINDOW_ADMIT_SCRIPT_SHA = "0884df7de7e0464b88969b17f820890b0ad173a7";

// Settlement, once. KEYS[1]: the balance; KEYS[2]: the request's marker; KEYS[3..n+2]: windows;
// with spend history, KEYS[n+3], KEYS[n+4]: the consumer's day and month usage hashes (keys.ts).
// ARGV[1]: what to add to the balance ("0": nothing); ARGV[2]: "d" to apply only if the admission's
// marker is there (and delete it), a number of seconds to claim a fresh marker (SET NX), or "0"
// for no marker; then per window: what to add, seconds left (0 or less: the window is over, leave
// it alone — writing would revive a key without expiry); with spend history, six more: the model
// (a hash field prefix), input tokens, output tokens, units charged, and the day's and the month's
// hash lifetime in seconds (set when a model's first request there creates its fields: the hash
// then lives until its period ends plus ttl_days, one EXPIRE per period rather than one per
// settlement; a hash holds at most 64 models: a model new to a full one is added to "(other)").
// History is there exactly when #ARGV − 2 = 2·(#KEYS − 2) + 2 (2n + 6 against n + 2).
// Reply: 1 applied; 2 applied, but a usage hash could not be added to (not a hash, or a field not
// an integer Redis can add to: history skipped, the charge is not held up by it); 0 not applied (no
// admission marker, or the marker was claimed already); -2 the balance, -6 a window counter, is not
// an integer Redis can add to; -4 bad arguments. Nothing is written unless the reply is 1 or 2, and
// the usage is added only where the balance and windows are: once per settlement.
export const SETTLE_SCRIPT = `-- ai-quota settlement
` + PRELUDE + `local MAX_FIELDS = 256
local h = ((#ARGV - 2) - 2 * (#KEYS - 2)) / 2
local n = #KEYS - 2 - 2 * h
local add = amount(ARGV[1])
if (h ~= 0 and h ~= 1) or n < 0 or not add then return -4 end
if ARGV[2] ~= "d" and ARGV[2] ~= "0" and not positive(ARGV[2]) then return -4 end
for i = 1, n do
  if not amount(ARGV[2 * i + 1]) or not int(ARGV[2 * i + 2]) then return -4 end
end
local hk, ha, fields, record = 2 * n + 3, {}, {}, false
if h == 1 then
  for j = 1, 3 do
    ha[j] = amount(ARGV[hk + j])
    if not ha[j] or ha[j] < 0 then return -4 end
  end
  if not positive(ARGV[hk + 4]) or not positive(ARGV[hk + 5]) or #ARGV[hk] > 256 then return -4 end
  ha[4] = 1
  local m = ARGV[hk]
  local own = {m .. "\\ni", m .. "\\no", m .. "\\nu", m .. "\\nr"}
  record = true
  for j = 1, 2 do
    local key, f = KEYS[n + 2 + j], own
    -- pcall: a key that is not a hash answers WRONGTYPE, which must not abort the settlement.
    local v = redis.pcall("HMGET", key, f[1], f[2], f[3], f[4])
    -- A hash holds at most MAX_FIELDS fields (64 models) and (other)'s: a model new to a full one is (other).
    if not v.err and not v[4] and redis.call("HLEN", key) >= MAX_FIELDS then
      f = {"(other)\\ni", "(other)\\no", "(other)\\nu", "(other)\\nr"}
      v = redis.call("HMGET", key, f[1], f[2], f[3], f[4])
    end
    fields[j] = f
    if v.err then record = false
    else
      for k = 1, 4 do
        if v[k] and not (int(v[k]) and addable(v[k], ha[k])) then record = false end
      end
    end
  end
end
if add ~= 0 then
  local v = redis.call("GET", KEYS[1])
  if v and not (int(v) and addable(v, add)) then return -2 end
end
for i = 1, n do
  local a = amount(ARGV[2 * i + 1])
  if a ~= 0 and int(ARGV[2 * i + 2]) > 0 then
    local v = redis.call("GET", KEYS[i + 2])
    if v and not (int(v) and addable(v, a)) then return -6 end
  end
end
if ARGV[2] == "d" then
  if redis.call("DEL", KEYS[2]) == 0 then return 0 end
elseif ARGV[2] ~= "0" then
  if not redis.call("SET", KEYS[2], "1", "NX", "EX", ARGV[2]) then return 0 end
end
if add ~= 0 then redis.call("INCRBY", KEYS[1], ARGV[1]) end
for i = 1, n do
  local a, ttl = ARGV[2 * i + 1], ARGV[2 * i + 2]
  if a ~= "0" and int(ttl) > 0 then
    redis.call("INCRBY", KEYS[i + 2], a)
    if redis.call("TTL", KEYS[i + 2]) < 0 then redis.call("EXPIRE", KEYS[i + 2], ttl) end
  end
end
if h == 1 and not record then return 2 end
if record then
  for j = 1, 2 do
    local key, f = KEYS[n + 2 + j], fields[j]
    for k = 1, 3 do
      if ha[k] ~= 0 then redis.call("HINCRBY", key, f[k], ARGV[hk + k]) end
    end
    if redis.call("HINCRBY", key, f[4], 1) == 1 then redis.call("EXPIRE", key, ARGV[hk + 3 + j]) end
  end
end
return 1
`;
export const SETTLE_SCRIPT_SHA = "f1a5c0a31d8caee5928c3117f0a438a2aecae25c";

// The spend history of some days of one consumer (admin API, admin_usage.ts). KEYS: the day hashes,
// all in the consumer's slot; ARGV[1]: a model, or "" for every model. Reply: per key, in order,
// its field/value pairs (the model's four fields only, when one is named; none for a day without
// usage); -1 when that would pass what the plugin reads of one reply (64 KiB, 4096 elements), so
// the caller can ask for fewer days instead of getting a reply it cannot read.
export const USAGE_SCRIPT = `-- ai-quota usage query
if #ARGV ~= 1 then return -4 end
local model = ARGV[1]
local out, bytes, count = {}, 0, 0
for i = 1, #KEYS do
  local day
  if model ~= "" then
    local f = {model .. "\\ni", model .. "\\no", model .. "\\nu", model .. "\\nr"}
    local v = redis.call("HMGET", KEYS[i], f[1], f[2], f[3], f[4])
    day = {}
    for j = 1, 4 do
      if v[j] then
        day[#day + 1] = f[j]
        day[#day + 1] = v[j]
      end
    end
  else
    day = redis.call("HGETALL", KEYS[i])
  end
  count = count + #day + 1
  for j = 1, #day do bytes = bytes + #day[j] + 16 end
  if bytes > 56000 or count > 4000 then return -1 end
  out[i] = day
end
return out
`;
export const USAGE_SCRIPT_SHA = "3a812f931e24f4ab876f72e8309524289d085979";
