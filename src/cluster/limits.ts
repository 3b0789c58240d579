import { log } from '../log'
import {
  BACKOFF_START_MS,
  memoryFailureLimiter,
  memoryRateLimiter,
  type FailureLimiter,
  type RateDecision,
  type RateLimiter,
} from '../auth/rate-limit'
import { memoryRunLimiter, type RunLimiter } from '../runs/service'
import type { ResilientRedis } from './connection'

/**
 * Limits shared by every process, each an atomic script over one key: the per-user run cap
 * (`runs:user:<id>`, a hash run → node), the login rate-limit windows (`rate:<prefix>:<key>`)
 * and the failure back-off (`fail:<prefix>:<key>`). While Redis is unreachable each falls back
 * to a per-process one, so the service keeps working, still limited.
 */
export class ClusterLimits {
  /** Run-cap releases that failed while Redis was down, retried once it is back. */
  readonly #pendingReleases = new Map<string, string>()

  constructor(
    private readonly commands: ResilientRedis,
    readonly nodeId: string,
  ) {}

  /**
   * Concurrent runs per user across every process: a hash of run id → node per user. While
   * Redis is unreachable the cap is held per process instead (runs keep starting); a release
   * that fails is retried once Redis is back, so no slot leaks.
   */
  runLimiter(): RunLimiter {
    const local = memoryRunLimiter()
    const localRuns = new Set<string>()
    return {
      tryAcquire: async (userId, max, runId) => {
        let ok: unknown
        try {
          ok = await this.commands.send('EVAL', [
            ACQUIRE_RUN,
            '1',
            `runs:user:${userId}`,
            String(max),
            runId,
            this.nodeId,
          ])
        } catch {
          log.warn('redis unreachable: the run cap holds per process for now', { runId })
          if (!(await local.tryAcquire(userId, max, runId))) return false
          localRuns.add(runId)
          return true
        }
        return Number(ok) === 1
      },
      release: async (userId, runId) => {
        if (localRuns.delete(runId)) return local.release(userId, runId)
        try {
          await this.commands.send('HDEL', [`runs:user:${userId}`, runId])
        } catch {
          this.#pendingReleases.set(runId, userId)
        }
      },
    }
  }

  /** Retries the releases that failed while Redis was down (called once it is back). */
  async retryReleases() {
    for (const [runId, userId] of [...this.#pendingReleases]) {
      try {
        await this.commands.send('HDEL', [`runs:user:${userId}`, runId])
        this.#pendingReleases.delete(runId)
      } catch {
        return // down again: the next reconnect retries
      }
    }
  }

  /**
   * A fixed-window counter shared by every process. While Redis is unreachable a per-process
   * window counts instead (logins keep working, still limited).
   */
  rateLimiter(prefix: string, max: number, windowSeconds: number): RateLimiter {
    const local = memoryRateLimiter(max, windowSeconds)
    return {
      hit: async (key): Promise<RateDecision> => {
        const redisKey = `rate:${prefix}:${key}`
        let reply: [number, number]
        try {
          reply = (await this.commands.send('EVAL', [HIT_WINDOW, '1', redisKey, String(windowSeconds * 1000)])) as [
            number,
            number,
          ]
        } catch {
          return local.hit(key)
        }
        const [count, ttl] = reply
        if (Number(count) > max) return { allowed: false, retryAfterSeconds: Math.max(1, Number(ttl) / 1000) }
        return { allowed: true }
      },
      reset: async (key) => {
        await local.reset(key)
        await this.commands.send('DEL', [`rate:${prefix}:${key}`]).catch(() => {})
      },
    }
  }

  /**
   * Failures with growing back-off (auth/rate-limit.ts FailureLimiter), shared by every process:
   * a hash {failures, lockedUntil} per key. While Redis is unreachable a per-process one counts.
   */
  failureLimiter(prefix: string, free: number, windowSeconds: number): FailureLimiter {
    const local = memoryFailureLimiter(free, windowSeconds)
    const keyOf = (key: string) => `fail:${prefix}:${key}`
    return {
      attempt: async (key): Promise<RateDecision> => {
        let left: number
        try {
          left = Number(
            await this.commands.send('EVAL', [
              ATTEMPT,
              '1',
              keyOf(key),
              String(Date.now()),
              String(free),
              String(windowSeconds),
            ]),
          )
        } catch {
          return local.attempt(key)
        }
        return left > 0 ? { allowed: false, retryAfterSeconds: left / 1000 } : { allowed: true }
      },
      forgive: async (key) => {
        await local.forgive(key)
        await this.commands.send('EVAL', [FORGIVE, '1', keyOf(key), String(free)]).catch(() => {})
      },
      reset: async (key) => {
        await local.reset(key)
        await this.commands.send('DEL', [keyOf(key)]).catch(() => {})
      },
    }
  }
}

/** HLEN < max → HSET run → 1, else 0; atomic across processes. */
const ACQUIRE_RUN = `if redis.call('HLEN', KEYS[1]) < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) return 1 else return 0 end`

/** INCR with the window set on the first hit; returns {count, ms left}. */
const HIT_WINDOW = `local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return {n, redis.call('PTTL', KEYS[1])}`

/**
 * FailureLimiter.attempt: ms left to wait (refused, not counted), or count it as a failure and
 * return 0; back-off as backoffMs() in auth/rate-limit.ts; forgotten a window after the last.
 */
const ATTEMPT = `local now = tonumber(ARGV[1])
local locked = tonumber(redis.call('HGET', KEYS[1], 'lockedUntil') or '0')
if locked > now then return math.ceil(locked - now) end
local n = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local free = tonumber(ARGV[2]) local cap = tonumber(ARGV[3]) * 1000
local wait = 0
if n >= free then wait = math.min(cap, ${BACKOFF_START_MS} * 2 ^ math.min(20, n - free)) end
redis.call('HSET', KEYS[1], 'lockedUntil', string.format('%d', now + wait))
redis.call('PEXPIRE', KEYS[1], math.floor(wait + cap))
return 0`

/** FailureLimiter.forgive: one failure fewer; no wait while under the free count. */
const FORGIVE = `if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = redis.call('HINCRBY', KEYS[1], 'failures', -1)
if n < 0 then redis.call('HSET', KEYS[1], 'failures', 0) n = 0 end
if n < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 'lockedUntil', '0') end
return n`
