/**
 * The Redis side of the lock protocol: three Lua scripts run atomically on each quorum node.
 *
 * Keys of one lock id (three per id, in this order):
 * - `<p>lock:<id>:w`  string: the writer's token, with a PX expiry (the writer's lease);
 * - `<p>lock:<id>:r`  sorted set: reader tokens scored by their expiry (ms, Redis clock);
 * - `<p>lock:<id>:ww` sorted set: tokens of writers waiting for the id, scored by expiry. While
 *   it is non-empty new readers are refused, which makes the lock writer-preferring across
 *   instances.
 * Times come from the Redis server's clock (TIME), so instances never compare their own clocks.
 */
import { createHash } from 'node:crypto';
import type Redis from 'ioredis';

const PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = math.floor(#KEYS / 3)
local function prune(i)
  redis.call('ZREMRANGEBYSCORE', KEYS[i * 3 + 2], '-inf', now)
  redis.call('ZREMRANGEBYSCORE', KEYS[i * 3 + 3], '-inf', now)
end
local function keepReaders(i, ttl)
  local r = KEYS[i * 3 + 2]
  if redis.call('PTTL', r) < ttl then redis.call('PEXPIRE', r, ttl) end
end
`;

/**
 * ARGV: token, ttlMs, mode, registerIntent ('1'|'0'), intentTtlMs. The last KEY is the fencing
 * counter. Returns the new fencing token, or 0 when some id is taken (a waiting writer then
 * registers its intent on every id).
 */
export const ACQUIRE = `${PRELUDE}
local token, ttl, mode = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local free = true
for i = 0, n - 1 do
  prune(i)
  local holder = redis.call('GET', KEYS[i * 3 + 1])
  if holder and holder ~= token then
    free = false
  elseif mode == 'write' then
    if redis.call('ZCARD', KEYS[i * 3 + 2]) > 0 then free = false end
  elseif redis.call('ZCARD', KEYS[i * 3 + 3]) > 0 then
    free = false
  end
end
if not free then
  if ARGV[4] == '1' and mode == 'write' then
    local intentTtl = tonumber(ARGV[5])
    for i = 0, n - 1 do
      redis.call('ZADD', KEYS[i * 3 + 3], now + intentTtl, token)
      redis.call('PEXPIRE', KEYS[i * 3 + 3], intentTtl)
    end
  end
  return 0
end
for i = 0, n - 1 do
  if mode == 'write' then
    redis.call('SET', KEYS[i * 3 + 1], token, 'PX', ttl)
    redis.call('ZREM', KEYS[i * 3 + 3], token)
  else
    redis.call('ZADD', KEYS[i * 3 + 2], now + ttl, token)
    keepReaders(i, ttl)
  end
end
return redis.call('INCR', KEYS[#KEYS])
`;

/** ARGV: token, ttlMs, mode, checkOnly ('1'|'0'). Returns 1 when every id is still ours (and extended). */
export const EXTEND = `${PRELUDE}
local token, ttl, mode = ARGV[1], tonumber(ARGV[2]), ARGV[3]
for i = 0, n - 1 do
  if mode == 'write' then
    if redis.call('GET', KEYS[i * 3 + 1]) ~= token then return 0 end
  else
    local s = redis.call('ZSCORE', KEYS[i * 3 + 2], token)
    if not s or tonumber(s) <= now then return 0 end
  end
end
if ARGV[4] == '1' then return 1 end
for i = 0, n - 1 do
  if mode == 'write' then
    redis.call('PEXPIRE', KEYS[i * 3 + 1], ttl)
  else
    redis.call('ZADD', KEYS[i * 3 + 2], 'XX', now + ttl, token)
    keepReaders(i, ttl)
  end
end
return 1
`;

/**
 * ARGV: token, channel, id1..idN. Drops whatever the token holds or waits for on every id and
 * publishes each id on the channel, waking waiters on every instance.
 */
export const RELEASE = `${PRELUDE}
local token, channel = ARGV[1], ARGV[2]
for i = 0, n - 1 do
  if redis.call('GET', KEYS[i * 3 + 1]) == token then redis.call('DEL', KEYS[i * 3 + 1]) end
  redis.call('ZREM', KEYS[i * 3 + 2], token)
  redis.call('ZREM', KEYS[i * 3 + 3], token)
  redis.call('PUBLISH', channel, ARGV[i + 3])
end
return 1
`;

const shas = new Map<string, string>();
const shaOf = (script: string) => {
  let sha = shas.get(script);
  if (!sha) shas.set(script, (sha = createHash('sha1').update(script).digest('hex')));
  return sha;
};

/** EVALSHA with a fallback to EVAL when the node has not cached the script yet. */
export async function runScript(node: Redis, script: string, keys: string[], args: (string | number)[]): Promise<number> {
  try {
    return (await node.evalsha(shaOf(script), keys.length, ...keys, ...args)) as number;
  } catch (err) {
    if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
    return (await node.eval(script, keys.length, ...keys, ...args)) as number;
  }
}
