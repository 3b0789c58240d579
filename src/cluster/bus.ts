import { log } from '../log'
import { AppError } from '../http/errors'
import type { SessionChange } from '../auth/sessions/view'
import type { BusHandler, EventBus } from '../runs/bus'
import type { JournalEntry } from '../runs/journal'
import type { RunEvent, ServerFrame } from '../protocol'
import type { ResilientRedis } from './connection'

const EVENTS = 'chat:events'
const CONTROL = 'chat:control'

/** Events kept for publishing again after an outage (the newest; older ones are resumed). */
const OUTBOX_MAX = 20_000

export type ControlMessage =
  | { type: 'cancel'; runId: string; from: string }
  /** A frame outside runs for every connection of a user (e.g. `document_status`), wherever they are. */
  | { type: 'user_frame'; userId: string; frame: ServerFrame; from: string }
  | { type: 'session'; change: SessionChange; from: string }
  /** An API key was revoked: requests still streaming with it on other processes stop. */
  | { type: 'key_revoked'; keyId: string; from: string }

const unavailable = () =>
  new AppError(503, 'cluster_unavailable', 'the cluster bus (Redis) is not reachable right now; try again in a moment')

/**
 * The two pub/sub channels between processes:
 *  - `chat:events`: every run event, `<from>\n<userId>\n<wire>`; each process delivers it to the
 *    owner's connections it holds. Events are stored before they are published, so what a
 *    process misses live (Redis down) is in the database for resume / the HTTP fallback.
 *  - `chat:control`: cancels for runs executing on another process, frames for a user's
 *    connections everywhere, session changes for every process's revocation view, and revoked
 *    API keys (the requests streaming with one stop, wherever they are).
 */
export class ClusterBus {
  readonly #handlers = new Set<BusHandler>()
  readonly #controlHandlers = new Set<(message: ControlMessage) => void>()
  #subscribed = false
  /** Events other processes did not get live (Redis down); their clients resume them. */
  publishFailures = 0
  /**
   * Events that could not be published (Redis down), in order, the newest OUTBOX_MAX. Once Redis
   * is back they are published again (`republish`, after the other processes have subscribed
   * again). Connections drop what they already have (by seq), so this only completes runs whose
   * last events (often their agent_completed) fell into the outage on another process; a gap in
   * the middle of a run is filled by the client's resume, as ever.
   */
  readonly #outbox: string[] = []
  /** Control messages (session changes, revoked keys) that could not be published (Redis down), published once it is back. */
  readonly #sessionOutbox: string[] = []

  constructor(
    private readonly commands: ResilientRedis,
    private readonly subscriber: ResilientRedis,
    readonly nodeId: string,
  ) {}

  get subscribed() {
    return this.#subscribed && this.subscriber.connected
  }

  async subscribe() {
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
  eventBus(close: () => Promise<void>): EventBus {
    return {
      publish: (userId: string, entry: JournalEntry) => {
        for (const handler of this.#handlers) handler(userId, entry)
        const message = `${this.nodeId}\n${userId}\n${entry.wire}`
        this.commands.send('PUBLISH', [EVENTS, message]).catch(() => {
          // Other processes miss this event live; it is stored, so their clients can resume it,
          // and it is published again once Redis is back (see republish).
          this.publishFailures++
          this.#outbox.push(message)
          if (this.#outbox.length > OUTBOX_MAX) this.#outbox.splice(0, this.#outbox.length - OUTBOX_MAX)
        })
      },
      subscribe: (handler: BusHandler) => {
        this.#handlers.add(handler)
        return () => void this.#handlers.delete(handler)
      },
      close,
    }
  }

  onControl(handler: (message: ControlMessage) => void) {
    this.#controlHandlers.add(handler)
  }

  /** Best effort: a lost frame outside runs is recovered by the client reading the API again. */
  async sendUserFrame(userId: string, frame: ServerFrame) {
    try {
      await this.commands.send('PUBLISH', [
        CONTROL,
        JSON.stringify({ type: 'user_frame', userId, frame, from: this.nodeId }),
      ])
    } catch (error) {
      log.warn('could not publish a frame to other processes', { error: String((error as Error)?.message ?? error) })
    }
  }

  /**
   * A session change for the other processes' revocation views. The database already holds it;
   * a process that misses it (Redis down) rebuilds its view when it subscribes again.
   */
  publishSessionChange(change: SessionChange) {
    this.#publishControl(JSON.stringify({ type: 'session', change, from: this.nodeId }), `session ${change.op}`)
  }

  /** A revoked key for the other processes (the database already refuses it to new requests). */
  publishKeyRevoked(keyId: string) {
    this.#publishControl(JSON.stringify({ type: 'key_revoked', keyId, from: this.nodeId }), 'key revoked')
  }

  /** A control message that must not be lost to a Redis outage: kept and published once it is back. */
  #publishControl(message: string, what: string) {
    this.commands.send('PUBLISH', [CONTROL, message]).catch(() => {
      log.warn('redis unreachable: a control message is published once it is back', { what })
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

  /** Publishes again what could not be published while Redis was down. */
  republish() {
    if (!this.commands.connected) return // down again: the next reconnect tries
    for (const message of this.#sessionOutbox.splice(0))
      this.commands.send('PUBLISH', [CONTROL, message]).catch(() => this.#sessionOutbox.push(message))
    const batch = this.#outbox.splice(0)
    if (batch.length)
      log.info('publishing again the events other processes missed while redis was down', { count: batch.length })
    for (const message of batch) {
      this.commands.send('PUBLISH', [EVENTS, message]).catch(() => {
        this.#outbox.push(message)
      })
    }
  }

  clear() {
    this.#handlers.clear()
  }
}
