import type { AgentOutcome } from '../agents/runner'
import type { EventError, RunStatusFinal } from '../protocol'

/** How a run ended: the agent loop's outcome, refined by why the run was stopped (if it was). */
export type RunOutcome = AgentOutcome

/** `not_started`: the run's start could not be written; it is dropped without a trace (RunManager.start). */
export type RunStopKind = 'cancelled' | 'timeout' | 'shutdown' | 'node_lost' | 'not_started'

/** Why a run was stopped from outside; carried as the abort reason of the run's signal. */
export class RunStop extends Error {
  constructor(readonly kind: RunStopKind) {
    super(kind)
  }

  /** The status and error a run stopped this way ends with. */
  // biome-ignore lint/suspicious/useGetterReturn: the switch covers every RunStopKind (tsc checks that it is exhaustive)
  get ending(): { status: RunStatusFinal; error: EventError } {
    switch (this.kind) {
      case 'cancelled':
        return { status: 'cancelled', error: { code: 'cancelled', message: 'the run was cancelled' } }
      case 'shutdown':
        return {
          status: 'cancelled',
          error: { code: 'server_shutdown', message: 'the server shut down before the run finished' },
        }
      case 'timeout':
        return {
          status: 'failed',
          error: { code: 'timeout', message: 'the run took longer than allowed and was stopped' },
        }
      case 'node_lost':
        return {
          status: 'failed',
          error: { code: 'node_lost', message: 'the server process running this run stopped' },
        }
      case 'not_started':
        return { status: 'failed', error: { code: 'internal_error', message: 'the run could not be started' } }
    }
  }
}

/**
 * The outcome of an agent loop whose run was stopped: a loop cut short by the stop ends the way
 * the stop says (cancelled, timed out…); one that finished anyway keeps its own outcome.
 */
export function outcomeAfterStop(outcome: AgentOutcome, signal: AbortSignal): RunOutcome {
  if (outcome.status === 'completed' || !signal.aborted || !(signal.reason instanceof RunStop)) return outcome
  return { ...outcome, ...signal.reason.ending }
}
