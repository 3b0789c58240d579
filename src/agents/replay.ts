import type { Message } from 'ollama'
import type { RunEvent } from '../protocol'
import { CITED_TOOL } from './citations'
import { getAgent, TRANSFER_TARGETS } from './definitions'

/** A tool call announced (`tool_executing` stored) whose `tool_completed` never was. */
export interface OpenToolCall {
  id: string
  name: string
  args: unknown
}

/** Where an interrupted run stands: enough to continue it from its last durable step. */
export interface RunState {
  /** The agent answering now (after any handoff). */
  agent: string
  /** The conversation for the next model call: system prompt, history, question, steps so far. */
  messages: Message[]
  /** Answer text of the finished steps. */
  answer: string
  /** Model steps already taken. */
  steps: number
  /** Tool calls cut by the crash: run again with the same id, without a second `tool_executing`. */
  openCalls: OpenToolCall[]
  /**
   * Set when the crash cut a model answer: the text it had streamed (maybe ''). That step is
   * asked again with this text as the start of the answer (a final assistant message, which
   * Ollama continues), and only the continuation is streamed.
   */
  prefill?: string
  /** Results of the run's finished `search_documents` calls, numbered as the model saw them. */
  citedResults: unknown[]
}

/** `agent_thinking` statuses that open a model step (src/agents/runner.ts). */
export const STEP_STATUSES = new Set(['thinking', 'reading tool results'])

const transferToolOf = (agent: string) =>
  Object.keys(TRANSFER_TARGETS).find((name) => TRANSFER_TARGETS[name] === agent) ?? `transfer_to_${agent}`

/**
 * Rebuilds a run's state from its stored events: the same messages the runner had built when it
 * stopped. Each model step opens with a step status and holds its streamed text, then either its
 * tool calls (`tool_executing`/`tool_completed`), a handoff, or nothing (the final answer — or a
 * step the crash cut short, when it is the last one).
 *
 * `base` is the conversation the run started with (earlier messages and the question).
 */
export function replayRun(events: RunEvent[], base: Message[], startAgent: string): RunState {
  let agent = events.find((e) => e.type === 'agent_started')?.agent ?? startAgent
  const messages: Message[] = [{ role: 'system', content: getAgent(agent)?.systemPrompt ?? '' }, ...base]
  let answer = ''
  let steps = 0
  const citedResults: unknown[] = []
  let step: { text: string; calls: OpenToolCall[]; results: Map<string, unknown>; handoff?: string } | undefined

  const closeStep = () => {
    if (!step) return
    answer += step.text
    if (step.handoff) {
      messages.push({
        role: 'assistant',
        content: step.text,
        tool_calls: [{ function: { name: transferToolOf(step.handoff), arguments: {} } }],
      })
      messages.push({
        role: 'tool',
        tool_name: transferToolOf(step.handoff),
        content: JSON.stringify({ transferred_to: step.handoff, reason: '' }),
      } as Message)
      agent = step.handoff
      messages[0] = { role: 'system', content: getAgent(agent)?.systemPrompt ?? '' }
    } else if (step.calls.length > 0) {
      messages.push({
        role: 'assistant',
        content: step.text,
        tool_calls: step.calls.map((c) => ({
          function: { name: c.name, arguments: (c.args ?? {}) as Record<string, unknown> },
        })),
      })
      for (const call of step.calls) {
        if (step.results.has(call.id))
          messages.push({
            role: 'tool',
            tool_name: call.name,
            content: JSON.stringify(step.results.get(call.id)),
          } as Message)
      }
    }
  }

  for (const event of events) {
    switch (event.type) {
      case 'agent_thinking':
        if (event.status && STEP_STATUSES.has(event.status)) {
          closeStep()
          steps++
          step = { text: '', calls: [], results: new Map() }
        }
        break
      case 'message_delta':
        if (step) step.text += event.delta
        break
      case 'tool_executing':
        step?.calls.push({ id: event.toolCallId, name: event.tool, args: event.args })
        break
      case 'tool_completed':
        step?.results.set(event.toolCallId, event.ok ? event.result : { error: event.error })
        if (event.ok && event.tool === CITED_TOOL) citedResults.push(event.result)
        break
      case 'agent_handoff':
        if (step) step.handoff = event.to
        break
    }
  }

  // The last step: finished tool calls or a handoff are closed like any step; a step with
  // neither was cut while the model answered.
  const last = step
  if (last && !last.handoff && last.calls.length === 0)
    return { agent, messages, answer, steps, openCalls: [], prefill: last.text, citedResults }
  closeStep()
  const openCalls = last ? last.calls.filter((c) => !last.results.has(c.id)) : []
  return { agent, messages, answer, steps, openCalls, citedResults }
}
