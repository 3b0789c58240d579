import { RedisClient } from 'bun'
import { log } from '../log'

/** Longest wait between two reconnect attempts. */
export const RECONNECT_MAX_MS = 4000

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
    const client = new RedisClient(this.url, {
      autoReconnect: false,
      connectionTimeout: 3000,
      enableOfflineQueue: false,
    })
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
    log.warn('redis connection lost; reconnecting with backoff', {
      client: this.name,
      error: String(error?.message ?? error ?? 'not connected'),
    })
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
