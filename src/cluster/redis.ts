import { RedisClient } from 'bun'
import { log } from '../log'
import { AppError } from '../http/errors'
import { BACKOFF_START_MS, memoryFailureLimiter, memoryRateLimiter, type FailureLimiter, type RateDecision, type RateLimiter } from '../auth/rate-limit'
import type { BusHandler, EventBus } from '../runs/bus'
import type { JournalEntry } from '../runs/journal'
import type { RunEvent } from '../runs/events'
import { memoryRunLimiter, type RunLimiter } from '../runs/service'
import type { SessionChange } from '../auth/sessions/view'

/**
 * Cluster mode (REDIS_URL set): several processes share events, cancels, limits and liveness
 * through Redis. Nothing here is needed, or loaded, by a single process.
 *
 * What goes through Redis (docs/scaling.md):
 *  - `chat:events` (pub/sub): every run event, `<from>\n<userId>\n<wire>`; each process delivers
 *    it to the owner's connections it holds. Events are stored before they are published, so
 *    what a process misses live (Redis down) is in the database for resume / the HTTP fallback.
 *  - `chat:control` (pub/sub): cancels for runs executing on another process, and session
 *    changes (logout, reuse, sign-out, disable, role) for every process's revocation view.
 *  - `runs:user:<id>` (hash run → node): the per-user concurrent run cap, checked by a script.
 *  - `rate:<prefix>:<key>`: the login rate-limit windows.
 *  - `node:<id>` (key with a TTL): heartbeats; `takeover:<id>`: who closes a dead node's runs.
 *
 * Redis trouble never takes a process down: commands fail fast (no offline queue), the client
 * reconnects with backoff, and meanwhile limits fall back to per-process ones.
 */

const EVENTS = 'chat:events'
const CONTROL = 'chat:control'

export const HEARTBEAT_MS = 1000
/** A node whose heartbeat is older than this is dead (kill -9 → closed within ~TTL + a sweep). */
export const NODE_TTL_MS = 8000
/** Longest wait between two reconnect attempts. */
export const RECONNECT_MAX_MS = 4000
/**
 * After Redis (re)starts and after our own reconnect, no other node is declared dead for this
 * long: a restart drops every heartbeat key (and a long outage lets them expire) until each node
 * has reconnected (within RECONNECT_MAX_MS of Redis answering) and beaten again, and those live
 * nodes must not lose their runs to that.
 */
export const LIVENESS_GRACE_MS = RECONNECT_MAX_MS + 3 * HEARTBEAT_MS

/** Events kept for publishing again after an outage (the newest; older ones are resumed). */
const OUTBOX_MAX = 20_000
/** Wait after our reconnect before that: the others reconnect within RECONNECT_MAX_MS too. */
const REPUBLISH_DELAY_MS = RECONNECT_MAX_MS + 1000

export type ControlMessage =
  | { type: 'cancel'; runId: string; from: string }
  /** A frame outside runs for every connection of a user (e.g. `document_status`), wherever they are. */
  | { type: 'user_frame'; userId: string; frame: object; from: string }
  | { type: 'session'; change: SessionChange; from: string }

/**
 * One Redis connection that comes back by itself. Bun's client reconnects on its own only for a
 * while and then gives up, so it runs with `autoReconnect: false` and this class replaces it with
 * a fresh client, with backoff, until Redis answers again; `onReconnect` lets a subscriber
 * subscribe again. Only the current client's `onclose` counts (an old one's is ignored).
 */
export class ResilientRedis {
  client: RedisClient
  #closed = false
  #retry = 0
  #reconnecting = false
  /** Date.now() of the last successful connect; 0 while down. */
  upSince = 0
  /** Date.now() of the last successful *re*connect (0 if the first connect never failed). */
  reconnectedAt = 0
  /** Date.now() when the connection was lost; 0 while up. */
  downSince = 0
  onReconnect?: () => void
  onDown?: (error: Error) => void

  constructor(
    private readonly url: string,
    readonly name: string,
  ) {
    this.client = this.#create()
  }

  #create() {
    const client = new RedisClient(this.url, { autoReconnect: false, connectionTimeout: 3000, enableOfflineQueue: false })
    client.onclose = (error) => {
      if (this.#closed || client !== this.client) return // an old client, already replaced
      this.#markDown(error)
      this.#scheduleReconnect()
    }
    return client
  }

  #markDown(error?: Error) {
    this.upSince = 0
    if (this.downSince) return // one warning per outage
    this.downSince = Date.now()
    log.warn('redis connection lost; reconnecting with backoff', { client: this.name, error: String(error?.message ?? error ?? 'not connected') })
    this.onDown?.(error ?? new Error('redis is not connected'))
  }

  get connected() {
    return this.client.connected
  }

  async connect() {
    await this.client.connect()
    this.upSince = Date.now()
    this.downSince = 0
  }

  /** Starts the reconnect loop (also used when the first connect fails). */
  reconnectSoon() {
    this.#markDown()
    this.#scheduleReconnect()
  }

  /** Redis answered on another connection: try this one now instead of after its backoff. */
  retryNow() {
    if (this.#closed || this.client.connected) return
    if (this.#reconnecting && this.#timer) {
      clearTimeout(this.#timer)
      this.#reconnecting = false
    }
    this.#retry = 0
    this.#scheduleReconnect(0)
  }

  #timer?: ReturnType<typeof setTimeout>

  #scheduleReconnect(delayMs?: number) {
    if (this.#reconnecting || this.#closed) return
    this.#reconnecting = true
    const delay = delayMs ?? Math.min(RECONNECT_MAX_MS, 100 * 2 ** this.#retry++) * (0.5 + Math.random() / 2)
    this.#timer = setTimeout(async () => {
      this.#timer = undefined
      if (this.#closed) return
      try {
        if (!this.client.connected) {
          const old = this.client
          this.client = this.#create()
          old.onclose = null
          old.close()
          await this.client.connect()
        }
        this.#retry = 0
        this.upSince = this.reconnectedAt = Date.now()
        const downFor = this.downSince ? Date.now() - this.downSince : 0
        this.downSince = 0
        log.info('redis connection back', { client: this.name, downMs: downFor })
        this.#reconnecting = false
        this.onReconnect?.()
      } catch {
        this.#reconnecting = false
        this.#scheduleReconnect()
      }
    }, delay)
    this.#timer.unref?.()
  }

  /** Runs a command; while Redis is down it fails fast instead of queueing. */
  async send(command: string, args: string[]): Promise<any> {
    if (!this.client.connected) {
      this.#markDown()
      this.#scheduleReconnect()
      throw new Error('redis is not connected')
    }
    return this.client.send(command, args)
  }

  close() {
    this.#closed = true
    this.client.onclose = null
    this.client.close()
  }
}

const unavailable = () => new AppError(503, 'cluster_unavailable', 'the cluster bus (Redis) is not reachable right now; try again in a moment')

export class RedisCluster {
  readonly commands: ResilientRedis
  readonly subscriber: ResilientRedis
  readonly #handlers = new Set<BusHandler>()
  readonly #controlHandlers = new Set<(message: ControlMessage) => void>()
  #heartbeat?: ReturnType<typeof setInterval>
  #subscribed = false
  /** Events other processes did not get live (Redis down); their clients resume them. */
  publishFailures = 0
  /**
   * Events that could not be published (Redis down), in order, the newest OUTBOX_MAX. Once Redis
   * is back they are published again, after REPUBLISH_DELAY_MS so that the other processes have
   * subscribed again. Connections drop what they already have (by seq), so this only completes
   * runs whose last events (often their agent_completed) fell into the outage on another
   * process; a gap in the middle of a run is filled by the client's resume, as ever.
   */
  readonly #outbox: string[] = []
  /** Session changes that could not be published (Redis down), published once it is back. */
  readonly #sessionOutbox: string[] = []
  /** Run-cap releases that failed while Redis was down, retried once it is back. */
  readonly #pendingReleases = new Map<string, string>()
  /** Called after subscribing again following an outage: broadcasts may have been missed. */
  onResubscribed?: () => void
  /** Told when Redis becomes unreachable and when it is back (for alerts / logs). */
  onStateChange?: (state: 'down' | 'up') => void

  constructor(
    url: string,
    readonly nodeId: string,
  ) {
    if (/[\n\r]/.test(nodeId)) throw new Error('NODE_ID must not contain line breaks')
    this.commands = new ResilientRedis(url, 'commands')
    this.subscriber = new ResilientRedis(url, 'subscriber')
    this.subscriber.onReconnect = () => {
      this.commands.retryNow()
      void this.#subscribe()
        .then(() => this.onResubscribed?.())
        .catch((error) => log.error('could not subscribe again', { error: String(error) }))
    }
    this.commands.onReconnect = () => {
      this.subscriber.retryNow()
      void this.#beat().catch(() => {})
      void this.#retryReleases()
      setTimeout(() => this.#republish(), REPUBLISH_DELAY_MS).unref?.()
      this.onStateChange?.('up')
    }
    this.commands.onDown = () => this.onStateChange?.('down')
  }

  /** Connects; if Redis is down the process still starts and keeps trying (see /ready). */
  async start() {
    const results = await Promise.allSettled([this.commands.connect(), this.subscriber.connect()])
    if (results[0].status === 'rejected') this.commands.reconnectSoon()
    else await this.#beat().catch(() => {})
    if (results[1].status === 'rejected') this.subscriber.reconnectSoon()
    else await this.#subscribe().catch(() => this.subscriber.reconnectSoon())
    if (results.some((r) => r.status === 'rejected')) log.error('redis is not reachable; running degraded until it is back', { error: String((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason) })
    this.#heartbeat = setInterval(() => void this.#beat().catch(() => {}), HEARTBEAT_MS)
    this.#heartbeat.unref?.()
  }

  /**
   * Milliseconds before which no other node may be declared dead (0: now is fine): within
   * LIVENESS_GRACE_MS of Redis's own start (a restart drops every heartbeat key) and of our
   * own reconnect (the others may still be reconnecting), and while we are down.
   */
  async livenessGraceLeft(): Promise<number> {
    if (!this.commands.connected) return LIVENESS_GRACE_MS
    const info = String(await this.commands.send('INFO', ['server']))
    const uptimeMs = Number(/uptime_in_seconds:(\d+)/.exec(info)?.[1] ?? Number.POSITIVE_INFINITY) * 1000
    const sinceReconnect = this.commands.reconnectedAt ? Date.now() - this.commands.reconnectedAt : Number.POSITIVE_INFINITY
    return Math.max(0, LIVENESS_GRACE_MS - Math.min(uptimeMs, sinceReconnect))
  }

  get subscribed() {
    return this.#subscribed && this.subscriber.connected
  }

  async #subscribe() {
    this.#subscribed = false
    await this.subscriber.client.subscribe([EVENTS, CONTROL], (message, channel) => {
      try {
        if (channel === EVENTS) {
          // `<from>\n<userId>\n<wire>`: the wire form is parsed once, not wrapped in more JSON.
          const a = message.indexOf('\n')
          const b = message.indexOf('\n', a + 1)
          if (message.slice(0, a) === this.nodeId) return // our own: delivered locally already
          const userId = message.slice(a + 1, b)
          const wire = message.slice(b + 1)
          const entry: JournalEntry = { event: JSON.parse(wire) as RunEvent, wire }
          for (const handler of this.#handlers) handler(userId, entry)
        } else {
          const data = JSON.parse(message)
          if (data.from === this.nodeId) return
          for (const handler of this.#controlHandlers) handler(data as ControlMessage)
        }
      } catch (error) {
        log.error('bad cluster message', { channel, error: String(error) })
      }
    })
    this.#subscribed = true
  }

  /** The event bus: local delivery at once, and to the other processes through Redis. */
  bus(): EventBus {
    return {
      publish: (userId: string, entry: JournalEntry) => {
        for (const handler of this.#handlers) handler(userId, entry)
        const message = `${this.nodeId}\n${userId}\n${entry.wire}`
        this.commands.send('PUBLISH', [EVENTS, message]).catch(() => {
          // Other processes miss this event live; it is stored, so their clients can resume it,
          // and it is published again once Redis is back (see #republish).
          this.publishFailures++
          this.#outbox.push(message)
          if (this.#outbox.length > OUTBOX_MAX) this.#outbox.splice(0, this.#outbox.length - OUTBOX_MAX)
        })
      },
      subscribe: (handler: BusHandler) => {
        this.#handlers.add(handler)
        return () => void this.#handlers.delete(handler)
      },
      close: async () => this.close(),
    }
  }

  onControl(handler: (message: ControlMessage) => void) {
    this.#controlHandlers.add(handler)
  }

  /** Best effort: a lost frame outside runs is recovered by the client reading the API again. */
  async sendUserFrame(userId: string, frame: object) {
    try {
      await this.commands.send('PUBLISH', [CONTROL, JSON.stringify({ type: 'user_frame', userId, frame, from: this.nodeId })])
    } catch (error) {
      log.warn('could not publish a frame to other processes', { error: String((error as Error)?.message ?? error) })
    }
  }

  /**
   * A session change for the other processes' revocation views. The database already holds it;
   * a process that misses it (Redis down) rebuilds its view when it subscribes again.
   */
  publishSessionChange(change: SessionChange) {
    const message = JSON.stringify({ type: 'session', change, from: this.nodeId })
    this.commands.send('PUBLISH', [CONTROL, message]).catch(() => {
      log.warn('redis unreachable: a session change is published once it is back', { op: change.op })
      this.#sessionOutbox.push(message)
      if (this.#sessionOutbox.length > OUTBOX_MAX) this.#sessionOutbox.shift()
    })
  }

  async sendCancel(runId: string) {
    try {
      await this.commands.send('PUBLISH', [CONTROL, JSON.stringify({ type: 'cancel', runId, from: this.nodeId })])
    } catch {
      throw unavailable()
    }
  }

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
          ok = await this.commands.send('EVAL', [ACQUIRE_RUN, '1', `runs:user:${userId}`, String(max), runId, this.nodeId])
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

  #republish() {
    if (!this.commands.connected) return // down again: the next reconnect tries
    for (const message of this.#sessionOutbox.splice(0)) this.commands.send('PUBLISH', [CONTROL, message]).catch(() => this.#sessionOutbox.push(message))
    const batch = this.#outbox.splice(0)
    if (batch.length) log.info('publishing again the events other processes missed while redis was down', { count: batch.length })
    for (const message of batch) {
      this.commands.send('PUBLISH', [EVENTS, message]).catch(() => {
        this.#outbox.push(message)
      })
    }
  }

  async #retryReleases() {
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
          reply = (await this.commands.send('EVAL', [HIT_WINDOW, '1', redisKey, String(windowSeconds * 1000)])) as [number, number]
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
          left = Number(await this.commands.send('EVAL', [ATTEMPT, '1', keyOf(key), String(Date.now()), String(free), String(windowSeconds)]))
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

  async #beat() {
    await this.commands.send('SET', [`node:${this.nodeId}`, String(Date.now()), 'PX', String(NODE_TTL_MS)])
  }

  async isAlive(nodeId: string): Promise<boolean> {
    return (await this.commands.send('EXISTS', [`node:${nodeId}`])) === 1
  }

  /** One survivor wins the right to close a dead process's runs (and may try again if it failed). */
  async claimTakeover(deadNodeId: string): Promise<boolean> {
    const claimed = await this.commands.send('EVAL', [CLAIM, '1', `takeover:${deadNodeId}`, this.nodeId, '60000'])
    return Number(claimed) === 1
  }

  /** Gives a claim back once the runs are closed (only ours: a compare-and-delete). */
  async releaseTakeover(deadNodeId: string): Promise<void> {
    await this.commands.send('EVAL', [RELEASE, '1', `takeover:${deadNodeId}`, this.nodeId])
  }

  /** Redis answers and this process is subscribed again (what /ready reports as `redis: ok`). */
  async ping(): Promise<boolean> {
    try {
      return (await this.commands.send('PING', [])) === 'PONG' && this.subscribed
    } catch {
      return false
    }
  }

  async close() {
    clearInterval(this.#heartbeat)
    try {
      if (this.commands.connected) await this.commands.send('DEL', [`node:${this.nodeId}`])
    } catch {}
    this.commands.close()
    this.subscriber.close()
    this.#handlers.clear()
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

/** SET NX, or already ours (a claimer whose first takeover failed half-way may try again). */
const CLAIM = `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end return 0`

/** DEL if the value is ours. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`
