import type { RunJournalStore, StoredEvent } from '../db/repositories/runs'
import { log } from '../log'
import { EventOrderGuard, type RunEvent, type RunEventBody } from './events'

/** An event with its wire form, serialised once and shared by every connection. */
export interface JournalEntry {
  event: RunEvent
  wire: string
}

/** Where a journal's events go once they have their seq. */
export interface EventPublisher {
  publish(userId: string, entry: JournalEntry): void
}

/**
 * Persists events in batches: appends queue up and one multi-row insert writes them every
 * few milliseconds (or sooner when many are waiting), instead of one insert per token.
 */
export class EventPersister {
  #pending: StoredEvent[] = []
  #timer: ReturnType<typeof setTimeout> | undefined
  #flushing: Promise<void> = Promise.resolve()
  failures = 0

  constructor(
    private readonly store: RunJournalStore,
    private readonly delayMs = 20,
    private readonly maxBatch = 500,
  ) {}

  add(event: StoredEvent): void {
    this.#pending.push(event)
    if (this.#pending.length >= this.maxBatch) void this.flush()
    else this.#timer ??= setTimeout(() => void this.flush(), this.delayMs)
  }

  /** Resolves once everything added so far is written. */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
    const batch = this.#pending
    this.#pending = []
    this.#flushing = this.#flushing.then(async () => {
      if (batch.length === 0) return
      for (let attempt = 1; ; attempt++) {
        try {
          await this.store.appendBatch(batch)
          return
        } catch (error) {
          if (attempt >= 3) {
            this.failures++
            log.error('run events could not be persisted', { count: batch.length, error: String(error) })
            return
          }
          await Bun.sleep(20 * attempt)
        }
      }
    })
    return this.#flushing
  }

  get pending() {
    return this.#pending.length
  }
}

/**
 * The journal of one run: gives each event the next seq (1, 2, 3… no gaps), checks the order
 * rules, keeps every event in memory for live replay, queues it for persistence and
 * publishes it to the owner's connections.
 */
export class RunJournal {
  readonly entries: JournalEntry[] = []
  readonly #guard = new EventOrderGuard()
  #seq: number
  readonly createdAt = performance.now()
  /** performance.now() of the first answer text (first-token latency). */
  firstDeltaAt: number | undefined

  constructor(
    readonly runId: string,
    readonly userId: string,
    readonly threadId: string,
    public agent: string,
    private readonly persister: EventPersister,
    private readonly publisher: EventPublisher,
    startSeq = 0,
  ) {
    this.#seq = startSeq
    if (startSeq > 0) this.#guard.markStarted()
  }

  append(body: RunEventBody): RunEvent {
    this.#guard.check(body)
    if (body.type === 'message_delta') this.firstDeltaAt ??= performance.now()
    const event = { ...body, runId: this.runId, threadId: this.threadId, seq: ++this.#seq, ts: new Date().toISOString(), agent: this.agent } as RunEvent
    const entry = { event, wire: JSON.stringify(event) }
    this.entries.push(entry)
    this.persister.add({ runId: this.runId, seq: event.seq, userId: this.userId, type: event.type, data: entry.wire })
    this.publisher.publish(this.userId, entry)
    return event
  }

  get lastSeq() {
    return this.#seq
  }

  get completed() {
    return this.#guard.completed
  }

  get openToolCalls() {
    return this.#guard.openToolCalls
  }

  /** Events with seq > afterSeq, in order. */
  since(afterSeq: number): JournalEntry[] {
    // seq n sits at index n - 1 - (first seq - 1); journals start at seq 1 unless recovered.
    const first = this.entries[0]?.event.seq ?? 1
    return this.entries.slice(Math.max(0, afterSeq - first + 1))
  }
}
