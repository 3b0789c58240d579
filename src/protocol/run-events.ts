/**
 * Run events (PROTOCOL.md §3): what a run's journal stores and every connection of its owner
 * receives. The server emits them (src/runs) and the browser renders them (src/web), both
 * from these types.
 */

/** One checked citation of an answer (PROTOCOL.md §8). */
export interface Citation {
  n: number
  documentId: string
  documentName: string
  chunkId: string
  quote: string
}

/** A failure as events carry it: a stable snake_case code and a human message. */
export interface EventError {
  code: string
  message: string
}

export type RunStatusFinal = 'completed' | 'failed' | 'cancelled'

export interface RunUsage {
  promptTokens: number
  completionTokens: number
  steps: number
}

export type RunEventBody =
  | { type: 'agent_started'; input: string }
  | { type: 'agent_thinking'; text?: string; status?: string }
  | { type: 'message_delta'; delta: string }
  | { type: 'tool_executing'; toolCallId: string; tool: string; args: unknown }
  | {
      type: 'tool_completed'
      toolCallId: string
      tool: string
      ok: boolean
      result?: unknown
      error?: EventError
      durationMs: number
    }
  | { type: 'agent_handoff'; from: string; to: string }
  | {
      type: 'agent_completed'
      status: RunStatusFinal
      message: { id: string; content: string; citations?: Citation[] }
      error?: EventError
      usage?: RunUsage
    }

export type RunEventType = RunEventBody['type']

/** The fields every event carries besides its body. */
export interface RunEventEnvelope {
  runId: string
  threadId: string
  seq: number
  ts: string
  agent: string
}

export type RunEvent = RunEventBody & RunEventEnvelope

/** Every event type, in the order a run may first emit them. */
export const RUN_EVENT_TYPES = [
  'agent_started',
  'agent_thinking',
  'message_delta',
  'tool_executing',
  'tool_completed',
  'agent_handoff',
  'agent_completed',
] as const satisfies readonly RunEventType[]

// A type added to RunEventBody but not to RUN_EVENT_TYPES fails to compile here.
type Missing = Exclude<RunEventType, (typeof RUN_EVENT_TYPES)[number]>
const allListed: [Missing] extends [never] ? true : Missing = true
void allListed

const runEventTypes: ReadonlySet<string> = new Set(RUN_EVENT_TYPES)

/** The five events the product promises on every run that uses a tool. */
export const CRITICAL_EVENTS = [
  'agent_started',
  'agent_thinking',
  'tool_executing',
  'tool_completed',
  'agent_completed',
] as const satisfies readonly RunEventType[]

/** Whether a received frame is a run event (and not one of the control frames). */
export function isRunEvent(frame: { type?: unknown; runId?: unknown; seq?: unknown }): frame is RunEvent {
  return (
    typeof frame.type === 'string' &&
    runEventTypes.has(frame.type) &&
    typeof frame.runId === 'string' &&
    typeof frame.seq === 'number'
  )
}
