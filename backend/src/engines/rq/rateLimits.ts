// RQ 3's rate limits, for the driver's Lua scripts (rq/rate_limit.py). A job enqueued with
// `rate_limit=RateLimit(key, concurrency)` carries `rate_limit_key` and `rate_limit_concurrency`
// in its hash. It holds a slot of its key (a member of `rq:rl:<key>:allowed`) while queued or
// started; past the concurrency it waits, with status `rate_limited`, in `rq:rl:<key>:rate_limited`
// (oldest first), out of any queue. RQ frees a slot when a job ends and moves waiting jobs in.
//
// z4j's actions keep that bookkeeping as RQ's own calls do: a cancelled or purged job frees its
// slot (otherwise its key would stall until RQ's maintenance finds the slot stale), a cancel
// reaches a waiting job, and a retry or a requeue waits for a slot like an enqueue. Jobs without a
// rate limit (every job before RQ 3) go through none of this.

/**
 * Lua functions for a script's head. Times: `now` is the score RQ gives (seconds since the epoch),
 * `iso` the enqueued_at it writes.
 */
export const RATE_LIMIT_LUA = `
local function rl_admit(limit, now, iso)
  local rl = 'rq:rl:' .. limit
  local concurrency = tonumber(redis.call('HGET', rl, 'concurrency'))
  if not concurrency then return end
  while redis.call('ZCARD', rl .. ':allowed') < concurrency do
    local popped = redis.call('ZPOPMIN', rl .. ':rate_limited')
    if #popped == 0 then return end
    local id = popped[1]
    local f = redis.call('HMGET', 'rq:job:' .. id, 'origin', 'status', 'enqueue_at_front')
    if f[1] and f[2] == 'rate_limited' then
      redis.call('ZADD', rl .. ':allowed', now, id)
      redis.call(f[3] == '1' and 'LPUSH' or 'RPUSH', 'rq:queue:' .. f[1], id)
      redis.call('HSET', 'rq:job:' .. id, 'status', 'queued', 'enqueued_at', iso)
    end
  end
end
local function rl_release(limit, id, now, iso)
  if redis.call('ZREM', 'rq:rl:' .. limit .. ':allowed', id) == 1 then rl_admit(limit, now, iso) end
end
local function rl_wait(limit, concurrency, id, now, iso)
  redis.call('SADD', 'rq:rl-keys', limit)
  if concurrency then redis.call('HSET', 'rq:rl:' .. limit, 'concurrency', concurrency) end
  redis.call('HSET', 'rq:job:' .. id, 'status', 'rate_limited')
  redis.call('ZADD', 'rq:rl:' .. limit .. ':rate_limited', now, id)
  rl_admit(limit, now, iso)
end
`;

/** Whole seconds since the epoch, as RQ scores its rate limit sets (utils.current_timestamp). */
export const rlNow = () => String(Math.floor(Date.now() / 1000));
