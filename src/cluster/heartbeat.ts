import type { ResilientRedis } from './connection'
import { RECONNECT_MAX_MS } from './connection'

export const HEARTBEAT_MS = 1000
/** A node whose heartbeat is older than this is dead (kill -9 → closed within ~TTL + a sweep). */
export const NODE_TTL_MS = 8000
/**
 * After Redis (re)starts and after our own reconnect, no other node is declared dead for this
 * long: a restart drops every heartbeat key (and a long outage lets them expire) until each node
 * has reconnected (within RECONNECT_MAX_MS of Redis answering) and beaten again, and those live
 * nodes must not lose their runs to that.
 */
export const LIVENESS_GRACE_MS = RECONNECT_MAX_MS + 3 * HEARTBEAT_MS

/**
 * Which processes are alive: each beats `node:<id>` (a key with a TTL) every HEARTBEAT_MS, and
 * one survivor claims `takeover:<id>` to close a dead one's runs (the sweeper, ./liveness.ts).
 */
export class NodeHeartbeat {
  #timer?: ReturnType<typeof setInterval>

  constructor(
    private readonly commands: ResilientRedis,
    readonly nodeId: string,
  ) {}

  /** Beats now and then every HEARTBEAT_MS (a failed beat is just missed). */
  start(beatNow: boolean) {
    if (beatNow) void this.beat().catch(() => {})
    this.#timer = setInterval(() => void this.beat().catch(() => {}), HEARTBEAT_MS)
    this.#timer.unref?.()
  }

  async beat() {
    await this.commands.send('SET', [`node:${this.nodeId}`, String(Date.now()), 'PX', String(NODE_TTL_MS)])
  }

  /**
   * Milliseconds before which no other node may be declared dead (0: now is fine): within
   * LIVENESS_GRACE_MS of Redis's own start (a restart drops every heartbeat key) and of our
   * own reconnect (the others may still be reconnecting), and while we are down.
   */
  async graceLeft(): Promise<number> {
    if (!this.commands.connected) return LIVENESS_GRACE_MS
    const info = String(await this.commands.send('INFO', ['server']))
    const uptimeMs = Number(/uptime_in_seconds:(\d+)/.exec(info)?.[1] ?? Number.POSITIVE_INFINITY) * 1000
    const sinceReconnect = this.commands.reconnectedAt
      ? Date.now() - this.commands.reconnectedAt
      : Number.POSITIVE_INFINITY
    return Math.max(0, LIVENESS_GRACE_MS - Math.min(uptimeMs, sinceReconnect))
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

  /** Stops beating and removes our key, so the others see us gone at once. */
  async stop() {
    clearInterval(this.#timer)
    try {
      if (this.commands.connected) await this.commands.send('DEL', [`node:${this.nodeId}`])
    } catch {}
  }
}

/** SET NX, or already ours (a claimer whose first takeover failed half-way may try again). */
const CLAIM = `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end return 0`

/** DEL if the value is ours. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`
