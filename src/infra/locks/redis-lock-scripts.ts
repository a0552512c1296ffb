/**
 * The Redis side of the lock protocol: three Lua scripts run atomically on each quorum node.
 *
 * Keys of one lock id (four per id, in this order):
 * - `<p>lock:<id>:w`  string: the writer's token, with a PX expiry (the writer's lease);
 * - `<p>lock:<id>:r`  sorted set: reader tokens scored by their expiry (ms, Redis clock);
 * - `<p>lock:<id>:ww` sorted set: tokens of writers waiting for the id, scored by expiry. While
 *   it is non-empty new readers are refused, which makes the lock writer-preferring across
 *   instances;
 * - `<p>lock:<id>:wt` sorted set: tokens of every waiter (reader or writer), scored by expiry. A
 *   release publishes a wake-up only when it is non-empty, so uncontended locks cost no pub/sub
 *   traffic. Entries of waiters that died expire on their own.
 * Times come from the Redis server's clock (TIME), so instances never compare their own clocks.
 */
import { createHash } from 'node:crypto';
import type Redis from 'ioredis';

// Sorted sets are pruned of expired entries only when non-empty, and the clock is read only
// then: an uncontended acquire or release is a handful of O(1) calls. Redis runs the whole script
// at every call, so the prelude only defines what the scripts share, and key j (1..4) of id i is
// KEYS[i * 4 + j], indexed inline.
const PRELUDE = `
local clock
local function now()
  if not clock then
    local t = redis.call('TIME')
    clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return clock
end
local n = math.floor(#KEYS / 4)
local function live(key)
  if redis.call('ZCARD', key) == 0 then return 0 end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now())
  return redis.call('ZCARD', key)
end
local function keepReaders(r, ttl)
  if redis.call('PTTL', r) < ttl then redis.call('PEXPIRE', r, ttl) end
end
local function mark(key, token, ttl)
  redis.call('ZADD', key, now() + ttl, token)
  redis.call('PEXPIRE', key, ttl)
end
`;

/**
 * Task-owned tokens start with `t:<task id>:<lease id>:` (lock-owner.ts). A token of a later lease
 * of the same task supersedes them: it is granted as if they were not there, and removes them (a
 * takeover, counted in the second-to-last KEY). Only the holder of the task's current PostgreSQL
 * lease can present such a token, and the runner of an earlier lease has stopped or can no longer
 * commit anything (docs/failure-modes.md).
 *
 * ARGV: token, ttlMs, mode, waiting, waitTtlMs. The last KEY is the fencing counter, the one
 * before it the takeover counter. `waiting` is
 * '0' for a single try, '1' for a waiter's first attempt, '2' for its later attempts (after a
 * failed one registered it). Returns the new fencing token, or 0 when some id is taken (a waiter
 * then registers on every id, a writer also as an intent that holds new readers back). A grant
 * withdraws the registrations only when there can be some. An id whose blocking keys (the writer
 * and, for a writer, the readers; for a reader, the writers' intents) do not exist at all is free
 * after one EXISTS: an uncontended acquisition of one id costs three calls (EXISTS, SET, INCR).
 */
export const ACQUIRE = `${PRELUDE}
local token, ttl, mode, waiting, registered = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4] ~= '0', ARGV[4] == '2'
local myTask, myLease = string.match(token, '^t:([^:]+):(%d+):')
myLease = tonumber(myLease)
-- Whether our token supersedes \`other\` (a token of an earlier lease of our task).
local function supersedes(other)
  if not myTask then return false end
  local task, lease = string.match(other, '^t:([^:]+):(%d+):')
  return task == myTask and tonumber(lease) < myLease
end
-- Live entries of a sorted set that our token does not supersede.
local function blocking(key)
  local count = live(key)
  if count == 0 or not myTask then return count end
  for _, t in ipairs(redis.call('ZRANGE', key, 0, -1)) do
    if supersedes(t) then count = count - 1 end
  end
  return count
end
local free = true
for i = 0, n - 1 do
  local b = i * 4
  -- Writers are blocked by readers (:r), readers by waiting writers (:ww).
  local blockers = mode == 'write' and KEYS[b + 2] or KEYS[b + 3]
  if redis.call('EXISTS', KEYS[b + 1], blockers) > 0 then
    local holder = redis.call('GET', KEYS[b + 1])
    if (holder and holder ~= token and not supersedes(holder)) or blocking(blockers) > 0 then free = false end
  end
  if not free then break end
end
if not free then
  if waiting then
    local waitTtl = tonumber(ARGV[5])
    for i = 0, n - 1 do
      mark(KEYS[i * 4 + 4], token, waitTtl)
      if mode == 'write' then mark(KEYS[i * 4 + 3], token, waitTtl) end
    end
  end
  return 0
end
local took = 0
if myTask then
  for i = 0, n - 1 do
    local b = i * 4
    local holder = redis.call('GET', KEYS[b + 1])
    if holder and supersedes(holder) then
      redis.call('DEL', KEYS[b + 1])
      took = took + 1
    end
    for k = 2, 4 do
      if redis.call('EXISTS', KEYS[b + k]) == 1 then
        for _, t in ipairs(redis.call('ZRANGE', KEYS[b + k], 0, -1)) do
          if supersedes(t) then
            redis.call('ZREM', KEYS[b + k], t)
            if k == 2 then took = took + 1 end
          end
        end
      end
    end
  end
  if took > 0 then redis.call('INCRBY', KEYS[#KEYS - 1], took) end
end
for i = 0, n - 1 do
  local b = i * 4
  if mode == 'write' then
    redis.call('SET', KEYS[b + 1], token, 'PX', ttl)
  else
    redis.call('ZADD', KEYS[b + 2], now() + ttl, token)
    keepReaders(KEYS[b + 2], ttl)
  end
  if registered then
    redis.call('ZREM', KEYS[b + 3], token)
    redis.call('ZREM', KEYS[b + 4], token)
  end
end
return redis.call('INCR', KEYS[#KEYS])
`;

/** ARGV: token, ttlMs, mode, checkOnly ('1'|'0'). Returns 1 when every id is still ours (and extended). */
export const EXTEND = `${PRELUDE}
local token, ttl, mode = ARGV[1], tonumber(ARGV[2]), ARGV[3]
for i = 0, n - 1 do
  local b = i * 4
  if mode == 'write' then
    if redis.call('GET', KEYS[b + 1]) ~= token then return 0 end
  else
    local s = redis.call('ZSCORE', KEYS[b + 2], token)
    if not s or tonumber(s) <= now() then return 0 end
  end
end
if ARGV[4] == '1' then return 1 end
for i = 0, n - 1 do
  local b = i * 4
  if mode == 'write' then
    redis.call('PEXPIRE', KEYS[b + 1], ttl)
  else
    redis.call('ZADD', KEYS[b + 2], 'XX', now() + ttl, token)
    keepReaders(KEYS[b + 2], ttl)
  end
end
return 1
`;

/**
 * ARGV: token, channel, mode ('read'|'write'|'any'), id1..idN. Drops what the token holds
 * (`any`: also what it waits for) on every id and, for each id somebody waits for, publishes the
 * id on the channel (waking the waiters of every instance).
 */
export const RELEASE = `${PRELUDE}
local token, channel, mode = ARGV[1], ARGV[2], ARGV[3]
for i = 0, n - 1 do
  local b = i * 4
  if mode ~= 'read' and redis.call('GET', KEYS[b + 1]) == token then redis.call('DEL', KEYS[b + 1]) end
  if mode ~= 'write' then redis.call('ZREM', KEYS[b + 2], token) end
  if mode == 'any' then
    redis.call('ZREM', KEYS[b + 3], token)
    redis.call('ZREM', KEYS[b + 4], token)
  end
  if live(KEYS[b + 4]) > 0 then redis.call('PUBLISH', channel, ARGV[i + 4]) end
end
return 1
`;

/** A script with its SHA1, computed once. */
export interface Script {
  text: string;
  sha: string;
}

const script = (text: string): Script => ({ text, sha: createHash('sha1').update(text).digest('hex') });
export const ACQUIRE_SCRIPT = script(ACQUIRE);
export const EXTEND_SCRIPT = script(EXTEND);
export const RELEASE_SCRIPT = script(RELEASE);

/** EVALSHA with a fallback to EVAL when the node has not cached the script yet. */
export async function runScript(node: Redis, s: Script, keys: string[], args: (string | number)[]): Promise<number> {
  try {
    return (await node.evalsha(s.sha, keys.length, ...keys, ...args)) as number;
  } catch (err) {
    if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
    return (await node.eval(s.text, keys.length, ...keys, ...args)) as number;
  }
}
