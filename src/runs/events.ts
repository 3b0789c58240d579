import type { Citation } from '../db/schema'

/** Run events of PROTOCOL.md §3. Every one carries {type, runId, threadId, seq, ts, agent}. */

export type RunStatusFinal = 'completed' | 'failed' | 'cancelled'

export type RunEventBody =
  | { type: 'agent_started'; input: string }
  | { type: 'agent_thinking'; text?: string; status?: string }
  | { type: 'message_delta'; delta: string }
  | { type: 'tool_executing'; toolCallId: string; tool: string; args: unknown }
  | { type: 'tool_completed'; toolCallId: string; tool: string; ok: boolean; result?: unknown; error?: { code: string; message: string }; durationMs: number }
  | { type: 'agent_handoff'; from: string; to: string }
  | {
      type: 'agent_completed'
      status: RunStatusFinal
      message: { id: string; content: string; citations?: Citation[] }
      error?: { code: string; message: string }
      usage?: { promptTokens: number; completionTokens: number; steps: number }
    }

export type RunEventType = RunEventBody['type']

export type RunEvent = RunEventBody & {
  runId: string
  threadId: string
  seq: number
  ts: string
  agent: string
}

/** The five events the product promises on every run that uses a tool. */
export const CRITICAL_EVENTS = ['agent_started', 'agent_thinking', 'tool_executing', 'tool_completed', 'agent_completed'] as const

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
    if (!this.#started && event.type !== 'agent_started') throw new EventOrderError(`${event.type} before agent_started`)
    switch (event.type) {
      case 'agent_started':
        if (this.#started) throw new EventOrderError('agent_started twice')
        this.#started = true
        break
      case 'tool_executing':
        if (this.#openTools.has(event.toolCallId)) throw new EventOrderError(`tool call ${event.toolCallId} started twice`)
        this.#openTools.add(event.toolCallId)
        break
      case 'tool_completed':
        if (!this.#openTools.delete(event.toolCallId)) throw new EventOrderError(`tool_completed for unknown call ${event.toolCallId}`)
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
