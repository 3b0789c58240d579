import type { RunEventBody } from '../protocol'

// The event types are the wire contract's (src/protocol); this file keeps the journal's ordering rules.
export type { RunEvent, RunEventBody, RunEventType, RunStatusFinal } from '../protocol'
export { CRITICAL_EVENTS } from '../protocol'

export class EventOrderError extends Error {}

/**
 * Guards the ordering rules of PROTOCOL.md §3 for one run: `agent_started` first and once,
 * nothing after `agent_completed`, every `tool_completed` answers an open `tool_executing`.
 * The journal checks each event before giving it a seq, so a bug can't put a bad order on
 * the wire.
 */
export class EventOrderGuard {
  #started = false
  #completed = false
  #openTools = new Set<string>()

  /** A journal reopened after a crash continues a run that did start. */
  markStarted() {
    this.#started = true
  }

  /** …and one cut between `tool_executing` and `tool_completed` still owes that `tool_completed`. */
  markOpen(toolCallId: string) {
    this.#openTools.add(toolCallId)
  }

  check(event: RunEventBody): void {
    if (this.#completed) throw new EventOrderError(`${event.type} after agent_completed`)
    if (!this.#started && event.type !== 'agent_started')
      throw new EventOrderError(`${event.type} before agent_started`)
    switch (event.type) {
      case 'agent_started':
        if (this.#started) throw new EventOrderError('agent_started twice')
        this.#started = true
        break
      case 'tool_executing':
        if (this.#openTools.has(event.toolCallId))
          throw new EventOrderError(`tool call ${event.toolCallId} started twice`)
        this.#openTools.add(event.toolCallId)
        break
      case 'tool_completed':
        if (!this.#openTools.delete(event.toolCallId))
          throw new EventOrderError(`tool_completed for unknown call ${event.toolCallId}`)
        break
      case 'agent_completed':
        this.#completed = true
        break
    }
  }

  get completed() {
    return this.#completed
  }

  /** Tool calls still waiting for their `tool_completed` (closed before completing a run). */
  get openToolCalls(): string[] {
    return [...this.#openTools]
  }
}
