import type { RunClose, RunJournalStore, StoredEvent } from '../db/repositories/runs'
import { runWithoutUser } from '../context/user-context'
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
  /**
   * Told once for a run found gone — deleted with its thread or its account while it ran — so it
   * can be stopped: none of its events can be stored any more.
   */
  onRunGone?: (runId: string) => void
}

const deliverNow: DeliverBatch = (publishAll) => publishAll()

/** Tries of a write that failed as a whole (the database busy or failing), the first included. */
const WRITE_ATTEMPTS = 3

/**
 * Group commit for run events: events appended in the same tick are written with one
 * multi-row insert, and each is published only once its batch is stored. So an event a client
 * has seen is always on disk (a kill -9 loses nothing acknowledged), and under load batches
 * simply grow instead of one insert per token.
 *
 * A batch holds the events of many users' runs, and one write serves them all, so one run's
 * failing rows must not cost the others anything: when a batch fails, each run's rows are
 * written again apart (one transaction, a savepoint per run), so only the failing run's are
 * left out. A run whose row is gone (its thread or account was deleted while it ran) can never
 * store an event again: its events are dropped from then on, said once, and never retried.
 * Only a batch that failed as a whole (the database, not one run) is tried again.
 */
export class EventPersister {
  #pending: { row: StoredEvent; onStored: () => void }[] = []
  #scheduled = false
  #writing: Promise<void> = Promise.resolve()
  /** Batches (or runs' parts of one) that could not be stored; alerts watch this. */
  failures = 0
  /** Runs whose events were dropped because the run was deleted while it ran (see `#gone`). */
  goneRuns = 0
  /** Runs found deleted while they ran, until their last event: their rows are not written. */
  readonly #gone = new Set<string>()
  readonly #deliverBatch: DeliverBatch
  readonly #maxBatch: number
  readonly #onRunGone: ((runId: string) => void) | undefined

  constructor(
    private readonly store: Pick<RunJournalStore, 'appendBatch' | 'appendEach' | 'missingRuns'>,
    options: EventPersisterOptions = {},
  ) {
    this.#deliverBatch = options.deliverBatch ?? deliverNow
    this.#maxBatch = options.maxBatch ?? 1000
    this.#onRunGone = options.onRunGone
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
    // A batch holds many users' events: it is written and delivered outside any one user's
    // context (else it would run in, and log as, the user whose event happened to come first).
    this.#writing = this.#writing.then(() =>
      runWithoutUser(async () => {
        for (let i = 0; i < batch.length; i += this.#maxBatch)
          await this.#write(batch.slice(i, i + this.#maxBatch).map((b) => b.row))
        // Delivery goes on whatever could not be stored (a lost answer is worse than an unsaved one).
        this.#deliverBatch(() => {
          for (const { onStored } of batch) onStored()
        })
      }),
    )
    return this.#writing
  }

  async #write(rows: StoredEvent[]) {
    let pending = rows.filter((row) => !this.#skipGone(row))
    for (let attempt = 1; pending.length > 0; attempt++) {
      const failed = await this.#attempt(pending)
      if (failed.size === 0) return
      const gone = await this.#goneAmong(pending, failed)
      for (const runId of gone) {
        failed.delete(runId)
        this.#markGone(runId, pending)
      }
      if (failed.size === 0) return
      const runs = new Set(pending.map((row) => row.runId))
      const othersStored = [...runs].some((runId) => !failed.has(runId) && !gone.has(runId))
      // The batch's other runs were stored, so these rows failed on their own and would again;
      // otherwise the database failed the whole write, and it is tried again.
      if (othersStored || attempt >= WRITE_ATTEMPTS) {
        // Alerts watch this; the events are served from memory meanwhile.
        this.failures++
        log.error('run events could not be persisted', {
          runs: failed.size,
          runIds: [...failed.keys()].slice(0, 10),
          count: pending.filter((row) => failed.has(row.runId)).length,
          error: String(failed.values().next().value),
        })
        return
      }
      pending = pending.filter((row) => failed.has(row.runId))
      await Bun.sleep(20 * attempt)
    }
  }

  /**
   * One try: the rows in one write; if that fails and they are of several runs, each run's rows
   * apart (one transaction, a savepoint per run). Returns the runs not stored, with their error.
   */
  async #attempt(rows: StoredEvent[]): Promise<Map<string, unknown>> {
    try {
      await this.store.appendBatch(rows)
      return new Map()
    } catch (error) {
      const byRun = new Map<string, StoredEvent[]>()
      for (const row of rows) {
        const list = byRun.get(row.runId)
        if (list) list.push(row)
        else byRun.set(row.runId, [row])
      }
      if (byRun.size === 1) return new Map([[rows[0].runId, error]])
      const outcomes = await this.store
        .appendEach([...byRun.values()])
        .catch((e: unknown) => [...byRun.keys()].map(() => e))
      const failed = new Map<string, unknown>()
      ;[...byRun.keys()].forEach((runId, i) => {
        if (outcomes[i] !== undefined) failed.set(runId, outcomes[i])
      })
      return failed
    }
  }

  /** Which of the `failed` runs are gone (their row deleted), so their rows can never be stored. */
  #goneAmong(rows: StoredEvent[], failed: Map<string, unknown>): Promise<Set<string>> {
    const owners = new Map(rows.filter((row) => failed.has(row.runId)).map((row) => [row.runId, row.userId]))
    const wanted = [...owners].map(([runId, userId]) => ({ runId, userId }))
    // Unknown (the read failed too): treated as not gone, so as a failure.
    return this.store.missingRuns(wanted).catch(() => new Set<string>())
  }

  /** A run found deleted: its rows here are dropped, and its later ones skipped until its last. */
  #markGone(runId: string, rows: StoredEvent[]) {
    const ended = rows.some((row) => row.runId === runId && row.type === 'agent_completed')
    if (!ended) this.#gone.add(runId)
    this.goneRuns++
    const userId = rows.find((row) => row.runId === runId)?.userId
    log.info('a run was deleted (with its thread or account) while it ran; its events are no longer stored', {
      run: runId,
      user: userId,
    })
    this.#onRunGone?.(runId)
  }

  /** True for a row of a run found gone (not written); its last event ends the skipping. */
  #skipGone(row: StoredEvent): boolean {
    if (!this.#gone.has(row.runId)) return false
    if (row.type === 'agent_completed') this.#gone.delete(row.runId)
    return true
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
