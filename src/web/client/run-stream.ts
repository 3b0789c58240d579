/**
 * The run stream: every run's events, each exactly once and in seq order, whatever way they
 * arrive — live on the socket, replayed after `resume`, or polled over HTTP
 * (`GET /api/runs/:id/events?after=N`) while the socket cannot be used. Duplicates are dropped
 * and gaps filled (RunSequencer does the bookkeeping); the ids of unfinished runs are kept
 * (e.g. in sessionStorage) so a reload resumes them. It sends through whatever transport it is
 * given and knows nothing of connection states.
 */
import type { ClientFrame, RunEvent } from '../../protocol'
import { RunSequencer, type RunState } from './runs'

/** Where the ids of unfinished runs (→ their thread) are kept, e.g. sessionStorage. */
export interface ActiveRunStore {
  save(runs: Record<string, string>): void
}

export interface RunStreamOptions {
  /** Sends a frame on the live socket; false when there is none. */
  send(frame: ClientFrame): boolean
  /** Whether the socket is authenticated (resume is asked there, else over HTTP). */
  isOpen(): boolean
  /** HTTP fallback: the run's events after `after` (GET /api/runs/:id/events). */
  fetchEvents?(runId: string, after: number): Promise<{ events: RunEvent[]; done: boolean }>
  activeRuns?: ActiveRunStore
  pollIntervalMs: number
  /** How long a gap in a run's seqs may stay before it is filled by resume / HTTP. */
  gapFillDelayMs: number
  /** HTTP polling started or ended. */
  onPollingChange?(polling: boolean): void
}

type Listener<T> = (value: T) => void

export class RunStream {
  readonly runs = new RunSequencer()
  #listeners = new Set<Listener<RunEvent>>()
  #gapTimers = new Map<string, ReturnType<typeof setTimeout>>()
  #pollTimer: ReturnType<typeof setTimeout> | undefined
  #polling = false

  constructor(private readonly opts: RunStreamOptions) {}

  get polling(): boolean {
    return this.#polling
  }

  /** Run events, each exactly once, in seq order per run. */
  onEvent(fn: Listener<RunEvent>) {
    this.#listeners.add(fn)
    return () => this.#listeners.delete(fn)
  }

  /** Takes one event from any source; passes on what is now in order. */
  deliver(event: RunEvent) {
    const known = this.runs.get(event.runId)
    const ready = this.runs.accept(event)
    if (!known) this.#persist()
    for (const e of ready) {
      for (const fn of [...this.#listeners]) {
        try {
          fn(e)
        } catch (error) {
          console.error(error)
        }
      }
    }
    if (ready.some((e) => e.type === 'agent_completed')) this.#persist()
    if (this.runs.hasGap(event.runId)) this.#scheduleGapFill(event.runId)
  }

  /** The socket is (again) ready: catch up every unfinished run from its last seq. */
  resumeAll() {
    this.stopPolling()
    for (const run of this.runs.unfinished())
      this.opts.send({ type: 'resume', runId: run.runId, afterSeq: run.lastSeq })
  }

  /** A run the server accepted for us. */
  accepted(runId: string, threadId: string) {
    this.runs.track(runId, threadId)
    this.#persist()
  }

  /**
   * Follows a run known from elsewhere (a page reload, or a thread whose last run is still
   * going): its events from the start are replayed.
   */
  track(runId: string, threadId: string) {
    const known = this.runs.get(runId)
    const run = this.runs.track(runId, threadId)
    if (known) return
    this.#persist()
    if (this.opts.isOpen()) this.opts.send({ type: 'resume', runId, afterSeq: run.lastSeq })
    else if (this.#polling) void this.#pollRun(run)
  }

  /** The server no longer has this run (its thread was deleted): stop following it. */
  gone(runId: string) {
    const run = this.runs.get(runId)
    if (!run || run.done) return
    this.runs.forget(runId)
    this.#persist()
  }

  /** Unfinished runs of one thread. */
  activeRunsOf(threadId: string): RunState[] {
    return this.runs.unfinished().filter((r) => r.threadId === threadId)
  }

  // ---- HTTP fallback ---------------------------------------------------------------------

  /** Polls every unfinished run over HTTP until none is left or stopPolling. */
  startPolling() {
    if (this.#polling || !this.opts.fetchEvents) return
    if (this.runs.unfinished().length === 0) return
    this.#setPolling(true)
    const loop = async () => {
      if (!this.#polling) return
      await Promise.all(this.runs.unfinished().map((run) => this.#pollRun(run)))
      if (!this.#polling) return
      if (this.runs.unfinished().length === 0) {
        this.#setPolling(false)
        return
      }
      this.#pollTimer = setTimeout(loop, this.opts.pollIntervalMs)
    }
    void loop()
  }

  stopPolling() {
    clearTimeout(this.#pollTimer)
    this.#setPolling(false)
  }

  /** Stops every timer (sign-out). */
  dispose() {
    this.stopPolling()
    for (const t of this.#gapTimers.values()) clearTimeout(t)
    this.#gapTimers.clear()
  }

  #setPolling(polling: boolean) {
    if (this.#polling === polling) return
    this.#polling = polling
    this.opts.onPollingChange?.(polling)
  }

  async #pollRun(run: RunState) {
    if (!this.opts.fetchEvents) return
    try {
      const { events } = await this.opts.fetchEvents(run.runId, run.lastSeq)
      for (const event of events)
        this.deliver({ ...event, runId: event.runId ?? run.runId, threadId: event.threadId ?? run.threadId })
    } catch (error: any) {
      if (error?.status === 404) {
        this.runs.forget(run.runId)
        this.#persist()
      }
    }
  }

  #scheduleGapFill(runId: string) {
    if (this.#gapTimers.has(runId)) return
    this.#gapTimers.set(
      runId,
      setTimeout(() => {
        this.#gapTimers.delete(runId)
        const run = this.runs.get(runId)
        if (!run || run.done || !this.runs.hasGap(runId)) return
        if (this.opts.isOpen()) this.opts.send({ type: 'resume', runId, afterSeq: run.lastSeq })
        else void this.#pollRun(run)
        // Check again later in case the fill itself was lost.
        this.#scheduleGapFill(runId)
      }, this.opts.gapFillDelayMs),
    )
  }

  #persist() {
    const store = this.opts.activeRuns
    if (!store) return
    const map: Record<string, string> = {}
    for (const run of this.runs.unfinished()) map[run.runId] = run.threadId
    try {
      store.save(map)
    } catch {}
  }
}
