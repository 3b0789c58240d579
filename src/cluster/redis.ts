import { RedisClient } from 'bun'
import { log } from '../log'
import type { RateDecision, RateLimiter } from '../auth/rate-limit'
import type { BusHandler, EventBus } from '../runs/bus'
import type { JournalEntry } from '../runs/journal'
import type { RunEvent } from '../runs/events'
import type { RunLimiter } from '../runs/service'

/**
 * Cluster mode (REDIS_URL set): several processes share events, cancels, limits and liveness
 * through Redis. Nothing here is needed, or loaded, by a single process.
 */

const EVENTS = 'chat:events'
const CONTROL = 'chat:control'

export type ControlMessage = { type: 'cancel'; runId: string; from: string }

/**
 * One Redis client that comes back by itself: Bun's client gives up after its retries, so a
 * restarted Redis is reconnected here with backoff, and `onReconnect` lets subscribers
 * subscribe again.
 */
export class ResilientRedis {
  client: RedisClient
  #closed = false
  #retry = 0
  #reconnecting = false
  onReconnect?: () => void
  onDown?: (error: Error) => void

  constructor(
    private readonly url: string,
    readonly name: string,
  ) {
    this.client = this.#create()
  }

  #create() {
    const client = new RedisClient(this.url, { autoReconnect: true, maxRetries: 5, connectionTimeout: 3000, enableOfflineQueue: false })
    client.onclose = (error) => {
      if (this.#closed) return
      log.warn('redis connection lost', { client: this.name, error: String(error?.message ?? error) })
      this.onDown?.(error)
      this.#scheduleReconnect()
    }
    return client
  }

  get connected() {
    return this.client.connected
  }

  async connect() {
    await this.client.connect()
  }

  /** Starts the reconnect loop (also used when the first connect fails). */
  reconnectSoon() {
    this.#scheduleReconnect()
  }

  #scheduleReconnect() {
    if (this.#reconnecting || this.#closed) return
    this.#reconnecting = true
    const delay = Math.min(5000, 100 * 2 ** this.#retry++) * (0.5 + Math.random() / 2)
    setTimeout(async () => {
      this.#reconnecting = false
      if (this.#closed) return
      try {
        if (!this.client.connected) {
          this.client.close()
          this.client = this.#create()
          await this.client.connect()
        }
        this.#retry = 0
        log.info('redis connection back', { client: this.name })
        this.onReconnect?.()
      } catch {
        this.#scheduleReconnect()
      }
    }, delay).unref?.()
  }

  /** Runs a command; while Redis is down it fails fast instead of queueing. */
  async send(command: string, args: string[]): Promise<any> {
    if (!this.client.connected) {
      this.#scheduleReconnect()
      throw new Error('redis is not connected')
    }
    return this.client.send(command, args)
  }

  close() {
    this.#closed = true
    this.client.close()
  }
}

export class RedisCluster {
  readonly commands: ResilientRedis
  readonly subscriber: ResilientRedis
  readonly #handlers = new Set<BusHandler>()
  readonly #controlHandlers = new Set<(message: ControlMessage) => void>()
  #heartbeat?: ReturnType<typeof setInterval>
  publishFailures = 0

  constructor(
    url: string,
    readonly nodeId: string,
  ) {
    this.commands = new ResilientRedis(url, 'commands')
    this.subscriber = new ResilientRedis(url, 'subscriber')
    this.subscriber.onReconnect = () => void this.#subscribe().catch(() => {})
  }

  /** Connects; if Redis is down the process still starts and keeps trying (see /ready). */
  async start() {
    try {
      await Promise.all([this.commands.connect(), this.subscriber.connect()])
      await this.#subscribe()
      await this.#beat()
    } catch (error) {
      log.error('redis is not reachable; running degraded until it is back', { error: String(error) })
      this.commands.reconnectSoon()
      this.subscriber.reconnectSoon()
    }
    this.#heartbeat = setInterval(() => void this.#beat().catch(() => {}), HEARTBEAT_MS)
    this.#heartbeat.unref?.()
  }

  async #subscribe() {
    await this.subscriber.client.subscribe([EVENTS, CONTROL], (message, channel) => {
      try {
        const data = JSON.parse(message)
        if (data.from === this.nodeId) return // our own: delivered locally already
        if (channel === EVENTS) {
          const entry: JournalEntry = { event: JSON.parse(data.wire) as RunEvent, wire: data.wire }
          for (const handler of this.#handlers) handler(data.userId, entry)
        } else {
          for (const handler of this.#controlHandlers) handler(data as ControlMessage)
        }
      } catch (error) {
        log.error('bad cluster message', { channel, error: String(error) })
      }
    })
  }

  /** The event bus: local delivery at once, and to the other processes through Redis. */
  bus(): EventBus {
    return {
      publish: (userId: string, entry: JournalEntry) => {
        for (const handler of this.#handlers) handler(userId, entry)
        this.commands.send('PUBLISH', [EVENTS, JSON.stringify({ from: this.nodeId, userId, wire: entry.wire })]).catch(() => {
          // Other processes miss this event live; their clients resume it from the journal.
          this.publishFailures++
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

  async sendCancel(runId: string) {
    await this.commands.send('PUBLISH', [CONTROL, JSON.stringify({ type: 'cancel', runId, from: this.nodeId })])
  }

  /** Concurrent runs per user across every process: a hash of run id → node per user. */
  runLimiter(): RunLimiter {
    return {
      tryAcquire: async (userId, max, runId) => {
        const ok = await this.commands.send('EVAL', [ACQUIRE_RUN, '1', `runs:user:${userId}`, String(max), runId, this.nodeId])
        return Number(ok) === 1
      },
      release: async (userId, runId) => {
        await this.commands.send('HDEL', [`runs:user:${userId}`, runId])
      },
    }
  }

  /** A fixed-window counter shared by every process. */
  rateLimiter(prefix: string, max: number, windowSeconds: number): RateLimiter {
    return {
      hit: async (key): Promise<RateDecision> => {
        const redisKey = `rate:${prefix}:${key}`
        const [count, ttl] = (await this.commands.send('EVAL', [HIT_WINDOW, '1', redisKey, String(windowSeconds * 1000)])) as [number, number]
        if (Number(count) > max) return { allowed: false, retryAfterSeconds: Math.max(1, Number(ttl) / 1000) }
        return { allowed: true }
      },
      reset: async (key) => {
        await this.commands.send('DEL', [`rate:${prefix}:${key}`])
      },
    }
  }

  async #beat() {
    await this.commands.send('SET', [`node:${this.nodeId}`, String(Date.now()), 'PX', String(NODE_TTL_MS)])
  }

  async isAlive(nodeId: string): Promise<boolean> {
    return (await this.commands.send('EXISTS', [`node:${nodeId}`])) === 1
  }

  /** One survivor wins the right to close a dead process's runs. */
  async claimTakeover(deadNodeId: string): Promise<boolean> {
    return (await this.commands.send('SET', [`takeover:${deadNodeId}`, this.nodeId, 'NX', 'PX', '60000'])) === 'OK'
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.commands.send('PING', [])) === 'PONG'
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

export const HEARTBEAT_MS = 1000
export const NODE_TTL_MS = 5000

/** HLEN < max → HSET run → 1, else 0; atomic across processes. */
const ACQUIRE_RUN = `if redis.call('HLEN', KEYS[1]) < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) return 1 else return 0 end`

/** INCR with the window set on the first hit; returns {count, ms left}. */
const HIT_WINDOW = `local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return {n, redis.call('PTTL', KEYS[1])}`
