import type { RunEvent } from '../../protocol'

export interface RunState {
  runId: string
  threadId: string
  /** Highest seq delivered in order (0 before any). */
  lastSeq: number
  done: boolean
  /** Every event delivered so far, in seq order (views replay them when they attach). */
  events: RunEvent[]
  /** Events that arrived ahead of a gap, by seq. */
  pending: Map<number, RunEvent>
}

/**
 * Puts each run's events in seq order: a duplicate (seq already delivered) is dropped, an
 * event after a gap waits until the gap is filled (by a resume replay or the HTTP fallback).
 * Pure bookkeeping, no I/O, so it is unit-testable.
 */
export class RunSequencer {
  readonly runs = new Map<string, RunState>()
  /** Finished runs kept for views; the oldest are forgotten beyond this. */
  constructor(private readonly keepFinished = 100) {}

  get(runId: string): RunState | undefined {
    return this.runs.get(runId)
  }

  /** Starts tracking a run known from elsewhere (reload, thread view), before its events. */
  track(runId: string, threadId: string): RunState {
    let run = this.runs.get(runId)
    if (!run) {
      run = { runId, threadId, lastSeq: 0, done: false, events: [], pending: new Map() }
      this.runs.set(runId, run)
    }
    return run
  }

  /** Returns the events that can now be delivered, in order (none for a duplicate or a gap). */
  accept(event: RunEvent): RunEvent[] {
    const run = this.track(event.runId, event.threadId)
    if (event.seq <= run.lastSeq || run.pending.has(event.seq)) return []
    if (event.seq !== run.lastSeq + 1) {
      run.pending.set(event.seq, event)
      return []
    }
    const out: RunEvent[] = []
    let next: RunEvent | undefined = event
    while (next) {
      run.pending.delete(next.seq)
      run.lastSeq = next.seq
      run.events.push(next)
      out.push(next)
      if (next.type === 'agent_completed') {
        run.done = true
        run.pending.clear()
        this.#forgetOld()
        break
      }
      next = run.pending.get(run.lastSeq + 1)
    }
    return out
  }

  /** True when events are waiting behind a missing seq. */
  hasGap(runId: string): boolean {
    return (this.runs.get(runId)?.pending.size ?? 0) > 0
  }

  unfinished(): RunState[] {
    return [...this.runs.values()].filter((r) => !r.done)
  }

  forget(runId: string) {
    this.runs.delete(runId)
  }

  #forgetOld() {
    const finished = [...this.runs.values()].filter((r) => r.done)
    for (const run of finished.slice(0, Math.max(0, finished.length - this.keepFinished))) this.runs.delete(run.runId)
  }
}
