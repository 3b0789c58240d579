import type { RunClose, RunJournalStore, StoredEvent } from '../db/repositories/runs'
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
 * Runs the publishing of one stored batch. The app gives the WebSocket registry's (src/ws), which
 * gathers each connection's frames of the batch and writes them corked, one socket write per
 * connection instead of one per frame; without one the publishes just run.
 */
export type DeliverBatch = (publishAll: () => void) => void

export interface EventPersisterOptions {
  /** How a stored batch's publishes run (default: one after another, right away). */
  deliverBatch?: DeliverBatch
  /** Most rows in one insert. */
  maxBatch?: number
}

const deliverNow: DeliverBatch = (publishAll) => publishAll()

/**
 * Group commit for run events: events appended in the same tick are written with one
 * multi-row insert, and each is published only once its batch is stored. So an event a client
 * has seen is always on disk (a kill -9 loses nothing acknowledged), and under load batches
 * simply grow instead of one insert per token.
 */
export class EventPersister {
  #pending: { row: StoredEvent; onStored: () => void }[] = []
  #scheduled = false
  #writing: Promise<void> = Promise.resolve()
  failures = 0
  readonly #deliverBatch: DeliverBatch
  readonly #maxBatch: number

  constructor(
    private readonly store: RunJournalStore,
    options: EventPersisterOptions = {},
  ) {
    this.#deliverBatch = options.deliverBatch ?? deliverNow
    this.#maxBatch = options.maxBatch ?? 1000
  }

  add(row: StoredEvent, onStored: () => void): void {
    this.#pending.push({ row, onStored })
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => void this.flush())
    }
  }

  /** Writes everything added so far; resolves once it is stored and published. */
  flush(): Promise<void> {
    this.#scheduled = false
    const batch = this.#pending
    this.#pending = []
    if (batch.length === 0) return this.#writing
    this.#writing = this.#writing.then(async () => {
      for (let i = 0; i < batch.length; i += this.#maxBatch)
        await this.#write(batch.slice(i, i + this.#maxBatch).map((b) => b.row))
      this.#deliverBatch(() => {
        for (const { onStored } of batch) onStored()
      })
    })
    return this.#writing
  }

  async #write(rows: StoredEvent[]) {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.store.appendBatch(rows)
        return
      } catch (error) {
        if (attempt >= 3) {
          // Delivery goes on (a lost answer is worse than an unsaved one); alerts watch this.
          this.failures++
          log.error('run events could not be persisted', { count: rows.length, error: String(error) })
          return
        }
        await Bun.sleep(20 * attempt)
      }
    }
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
  /** Highest seq stored and published; replays never run ahead of it. */
  #publishedSeq: number
  readonly createdAt = performance.now()
  /** performance.now() of the first answer text (first-token latency). */
  firstDeltaAt: number | undefined
  /** While the run's start is being written: each appended event's persistence, in order (`hold`). */
  #held: (() => void)[] | undefined
  #discarded = false
  #opened: Promise<void> = Promise.resolve()
  #settleOpen: { resolve: () => void; reject: (reason: Error) => void } | undefined

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
    this.#publishedSeq = startSeq
    if (startSeq > 0) this.#guard.markStarted()
  }

  /**
   * The journal of a run continued after its process died: its stored events come first (so a
   * `resume` from any seq is served from memory), new ones continue their seq.
   */
  static reopen(
    runId: string,
    userId: string,
    threadId: string,
    agent: string,
    persister: EventPersister,
    publisher: EventPublisher,
    stored: JournalEntry[],
  ): RunJournal {
    const journal = new RunJournal(runId, userId, threadId, agent, persister, publisher, stored.at(-1)?.event.seq ?? 0)
    journal.entries.push(...stored)
    const open = new Set<string>()
    for (const { event } of stored) {
      if (event.type === 'tool_executing') open.add(event.toolCallId)
      if (event.type === 'tool_completed') open.delete(event.toolCallId)
    }
    for (const id of open) journal.#guard.markOpen(id)
    return journal
  }

  /** `closesRun` (with `agent_completed`): the run's row is closed in the same write as the event. */
  append(body: RunEventBody, closesRun?: RunClose): RunEvent {
    this.#guard.check(body)
    if (body.type === 'message_delta') this.firstDeltaAt ??= performance.now()
    const event = {
      ...body,
      runId: this.runId,
      threadId: this.threadId,
      seq: ++this.#seq,
      ts: new Date().toISOString(),
      agent: this.agent,
    } as RunEvent
    const entry = { event, wire: JSON.stringify(event) }
    this.entries.push(entry)
    if (this.#discarded) return event
    const persist = () =>
      this.persister.add(
        {
          runId: this.runId,
          seq: event.seq,
          userId: this.userId,
          type: event.type,
          data: entry.wire,
          ...(closesRun && { closesRun }),
        },
        () => {
          this.#publishedSeq = event.seq
          this.publisher.publish(this.userId, entry)
        },
      )
    if (this.#held) this.#held.push(persist)
    else persist()
    return event
  }

  /**
   * Holds back the events appended from now on (kept in order, neither stored nor published)
   * until `open()`, or drops them with `discard()`. A run's model call starts while its start is
   * still being written (RunManager.start); nothing of it may reach a client, the database or a
   * tool before that write has committed.
   */
  hold(): void {
    this.#held = []
    const { promise, resolve, reject } = Promise.withResolvers<void>()
    promise.catch(() => {}) // only `durable()` callers see a discard
    this.#opened = promise
    this.#settleOpen = { resolve, reject }
  }

  /** The run's start is written: its held events go out, in order. */
  open(): void {
    const held = this.#held ?? []
    this.#held = undefined
    for (const persist of held) persist()
    this.#settleOpen?.resolve()
  }

  /** The run's start failed: its events are dropped, now and later; `durable()` rejects with `reason`. */
  discard(reason: Error): void {
    this.#held = undefined
    this.#discarded = true
    this.#settleOpen?.reject(reason)
  }

  /** True once the held events went out (`open`), false if they were dropped (`discard`); true at once if never held. */
  whenOpen(): Promise<boolean> {
    return this.#opened.then(
      () => true,
      () => false,
    )
  }

  /**
   * Resolves once every event appended so far is stored (and published). While the journal is
   * held it first waits for `open()` (and rejects on `discard()`): the runner waits here before
   * a tool acts.
   */
  durable(): Promise<void> {
    return this.#opened.then(() => this.persister.flush())
  }

  get lastSeq() {
    return this.#seq
  }

  /** True once `agent_completed` is stored and published. */
  get completed() {
    return this.#guard.completed && this.#publishedSeq === this.#seq
  }

  get openToolCalls() {
    return this.#guard.openToolCalls
  }

  /** Stored and published events with seq > afterSeq, in order. */
  since(afterSeq: number): JournalEntry[] {
    // Entries are contiguous from the first one's seq (1, or more for a recovered journal).
    const first = this.entries[0]?.event.seq ?? 1
    return this.entries.slice(Math.max(0, afterSeq - first + 1), Math.max(0, this.#publishedSeq - first + 1))
  }
}
