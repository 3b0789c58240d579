import { log } from '../log'
import type { FailureLimiter, RateLimiter } from '../auth/rate-limit'
import type { SessionChange } from '../auth/sessions/view'
import type { EventBus } from '../runs/bus'
import type { RunLimiter } from '../runs/service'
import type { ServerFrame } from '../protocol'
import { ClusterBus, type ControlMessage } from './bus'
import { RECONNECT_MAX_MS, ResilientRedis } from './connection'
import { NodeHeartbeat } from './heartbeat'
import { ClusterLimits } from './limits'

export { RECONNECT_MAX_MS, ResilientRedis } from './connection'
export { HEARTBEAT_MS, LIVENESS_GRACE_MS, NODE_TTL_MS } from './heartbeat'
export type { ControlMessage } from './bus'

/**
 * Cluster mode (REDIS_URL set): several processes share events, cancels, limits and liveness
 * through Redis. Nothing here is needed, or loaded, by a single process. This class puts the
 * parts together over two connections (one for commands, one subscribed):
 *
 *  - ./connection.ts  a Redis connection that comes back by itself (ResilientRedis);
 *  - ./bus.ts         `chat:events` and `chat:control` pub/sub, with outboxes for outages;
 *  - ./limits.ts      the run cap, login rate-limit windows and failure back-off;
 *  - ./heartbeat.ts   `node:<id>` heartbeats and `takeover:<id>` claims (./liveness.ts sweeps).
 *
 * docs/scaling.md lists every key and channel. Redis trouble never takes a process down:
 * commands fail fast (no offline queue), the client reconnects with backoff, and meanwhile
 * limits fall back to per-process ones.
 */

/** Wait after our reconnect before publishing again: the others reconnect within RECONNECT_MAX_MS too. */
const REPUBLISH_DELAY_MS = RECONNECT_MAX_MS + 1000

export class RedisCluster {
  readonly commands: ResilientRedis
  readonly subscriber: ResilientRedis
  readonly #bus: ClusterBus
  readonly #limits: ClusterLimits
  readonly #heartbeat: NodeHeartbeat
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
    this.#bus = new ClusterBus(this.commands, this.subscriber, nodeId)
    this.#limits = new ClusterLimits(this.commands, nodeId)
    this.#heartbeat = new NodeHeartbeat(this.commands, nodeId)
    this.subscriber.onReconnect = () => {
      this.commands.retryNow()
      void this.#bus
        .subscribe()
        .then(() => this.onResubscribed?.())
        .catch((error) => log.error('could not subscribe again', { error: String(error) }))
    }
    this.commands.onReconnect = () => {
      this.subscriber.retryNow()
      void this.#heartbeat.beat().catch(() => {})
      void this.#limits.retryReleases()
      setTimeout(() => this.#bus.republish(), REPUBLISH_DELAY_MS).unref?.()
      this.onStateChange?.('up')
    }
    this.commands.onDown = () => this.onStateChange?.('down')
  }

  /** Connects; if Redis is down the process still starts and keeps trying (see /ready). */
  async start() {
    const results = await Promise.allSettled([this.commands.connect(), this.subscriber.connect()])
    if (results[0].status === 'rejected') this.commands.reconnectSoon()
    else await this.#heartbeat.beat().catch(() => {})
    if (results[1].status === 'rejected') this.subscriber.reconnectSoon()
    else await this.#bus.subscribe().catch(() => this.subscriber.reconnectSoon())
    if (results.some((r) => r.status === 'rejected'))
      log.error('redis is not reachable; running degraded until it is back', {
        error: String((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason),
      })
    this.#heartbeat.start(false)
  }

  // ---- bus ---------------------------------------------------------------------------------

  get subscribed() {
    return this.#bus.subscribed
  }

  /** Events other processes did not get live (Redis down); their clients resume them. */
  get publishFailures() {
    return this.#bus.publishFailures
  }

  bus(): EventBus {
    return this.#bus.eventBus(async () => this.close())
  }

  onControl(handler: (message: ControlMessage) => void) {
    this.#bus.onControl(handler)
  }

  sendUserFrame(userId: string, frame: ServerFrame) {
    return this.#bus.sendUserFrame(userId, frame)
  }

  publishSessionChange(change: SessionChange) {
    this.#bus.publishSessionChange(change)
  }

  publishKeyRevoked(keyId: string) {
    this.#bus.publishKeyRevoked(keyId)
  }

  sendCancel(runId: string) {
    return this.#bus.sendCancel(runId)
  }

  // ---- limits ------------------------------------------------------------------------------

  runLimiter(): RunLimiter {
    return this.#limits.runLimiter()
  }

  rateLimiter(prefix: string, max: number, windowSeconds: number): RateLimiter {
    return this.#limits.rateLimiter(prefix, max, windowSeconds)
  }

  failureLimiter(prefix: string, free: number, windowSeconds: number): FailureLimiter {
    return this.#limits.failureLimiter(prefix, free, windowSeconds)
  }

  // ---- liveness ----------------------------------------------------------------------------

  livenessGraceLeft(): Promise<number> {
    return this.#heartbeat.graceLeft()
  }

  isAlive(nodeId: string): Promise<boolean> {
    return this.#heartbeat.isAlive(nodeId)
  }

  claimTakeover(deadNodeId: string): Promise<boolean> {
    return this.#heartbeat.claimTakeover(deadNodeId)
  }

  releaseTakeover(deadNodeId: string): Promise<void> {
    return this.#heartbeat.releaseTakeover(deadNodeId)
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
    await this.#heartbeat.stop()
    this.commands.close()
    this.subscriber.close()
    this.#bus.clear()
  }
}
