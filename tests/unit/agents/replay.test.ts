/** replayRun: the runner's state rebuilt from a stored journal, at each point a crash can leave it. */
import { describe, expect, test } from 'bun:test'
import type { Message } from 'ollama'
import { replayRun } from '../../../src/agents/replay'
import { getAgent } from '../../../src/agents/definitions'
import type { RunEvent, RunEventBody } from '../../../src/runs/events'

const base: Message[] = [
  { role: 'user', content: 'earlier question' },
  { role: 'assistant', content: 'earlier answer' },
  { role: 'user', content: 'save a note about milk' },
]

/** Stored events with seq, as a journal writes them. */
function journal(...bodies: (RunEventBody & { agent?: string })[]): RunEvent[] {
  let agent = 'triage'
  return bodies.map((body, i) => {
    if (body.type === 'agent_handoff') agent = body.to
    return { runId: 'r', threadId: 't', ts: '', agent: body.agent ?? agent, seq: i + 1, ...body } as RunEvent
  })
}

const started = { type: 'agent_started', input: 'save a note about milk' } as const
const step = (n: number) => ({ type: 'agent_thinking', status: n === 1 ? 'thinking' : 'reading tool results' }) as const

/** A tool call that finished: its tool_executing, then its tool_completed with a result or an error. */
const toolCall = (
  toolCallId: string,
  tool: string,
  args: Record<string, unknown>,
  outcome: { result: unknown } | { error: { code: string; message: string } },
): RunEventBody[] => [
  { type: 'tool_executing', toolCallId, tool, args },
  { type: 'tool_completed', toolCallId, tool, ok: 'result' in outcome, ...outcome, durationMs: 1 } as RunEventBody,
]

/** The state replayRun rebuilds from these events of a run that `agent` started (after `base`). */
const replay = (agent: string, ...bodies: (RunEventBody & { agent?: string })[]) =>
  replayRun(journal(...bodies), base, agent)

describe('replayRun', () => {
  test('nothing streamed yet: the first step is asked again with no prefill', () => {
    const state = replay('triage', started, step(1))
    expect(state).toMatchObject({ agent: 'triage', steps: 1, answer: '', openCalls: [], prefill: '' })
    expect(state.messages).toEqual([{ role: 'system', content: getAgent('triage')!.systemPrompt }, ...base])
  })

  test('cut mid-answer: the streamed text becomes the prefill; thinking text and queue statuses are not steps', () => {
    const state = replay(
      'triage',
      started,
      { type: 'agent_thinking', status: 'queued: 1 ahead of you for the model' },
      step(1),
      { type: 'agent_thinking', text: 'hmm' },
      { type: 'message_delta', delta: 'Hello ' },
      { type: 'message_delta', delta: 'wor' },
    )
    expect(state).toMatchObject({ steps: 1, answer: '', prefill: 'Hello wor', openCalls: [] })
  })

  test('a handoff and a completed tool call: the messages the runner had, the next step to take', () => {
    const state = replay(
      'triage',
      started,
      step(1),
      { type: 'agent_handoff', from: 'triage', to: 'notes_assistant' },
      step(2),
      ...toolCall('c1', 'save_note', { title: 'Milk', body: 'buy' }, { result: { id: 'n1', title: 'Milk' } }),
    )
    expect(state).toMatchObject({ agent: 'notes_assistant', steps: 2, answer: '', openCalls: [] })
    expect(state.prefill).toBeUndefined()
    expect(state.messages).toEqual([
      { role: 'system', content: getAgent('notes_assistant')!.systemPrompt },
      ...base,
      {
        role: 'assistant',
        content: '',
        tool_calls: [{ function: { name: 'transfer_to_notes_assistant', arguments: {} } }],
      },
      {
        role: 'tool',
        tool_name: 'transfer_to_notes_assistant',
        content: JSON.stringify({ transferred_to: 'notes_assistant', reason: '' }),
      },
      {
        role: 'assistant',
        content: '',
        tool_calls: [{ function: { name: 'save_note', arguments: { title: 'Milk', body: 'buy' } } }],
      },
      { role: 'tool', tool_name: 'save_note', content: JSON.stringify({ id: 'n1', title: 'Milk' }) },
    ] as Message[])
  })

  test('a call cut between tool_executing and tool_completed is open, after the completed ones; failures reach the model as errors', () => {
    const failure = { code: 'tool_error', message: 'division by zero' }
    const state = replay(
      'planner',
      started,
      step(1),
      { type: 'message_delta', delta: 'Let me check. ' },
      ...toolCall('c1', 'calculate', { expression: '1/0' }, { error: failure }),
      { type: 'tool_executing', toolCallId: 'c2', tool: 'save_note', args: { title: 'A', body: 'b' } },
    )
    expect(state.openCalls).toEqual([{ id: 'c2', name: 'save_note', args: { title: 'A', body: 'b' } }])
    expect(state.answer).toBe('Let me check. ')
    expect(state.prefill).toBeUndefined()
    expect(state.messages.slice(-2)).toEqual([
      {
        role: 'assistant',
        content: 'Let me check. ',
        tool_calls: [
          { function: { name: 'calculate', arguments: { expression: '1/0' } } },
          { function: { name: 'save_note', arguments: { title: 'A', body: 'b' } } },
        ],
      },
      {
        role: 'tool',
        tool_name: 'calculate',
        content: JSON.stringify({ error: failure }),
      },
    ] as Message[])
  })

  test('finished steps add their text to the answer; the cut step after them is the prefill', () => {
    const state = replay(
      'planner',
      started,
      step(1),
      { type: 'message_delta', delta: 'First. ' },
      ...toolCall('c1', 'current_time', {}, { result: { iso: 'x', timezone: 'UTC' } }),
      step(2),
      { type: 'message_delta', delta: 'Then' },
    )
    expect(state).toMatchObject({ steps: 2, answer: 'First. ', prefill: 'Then', openCalls: [] })
  })

  test('the numbered results of finished document searches are kept, so citations keep their numbers', () => {
    const numbered = {
      passages: [
        { chunkId: 'k1', n: 1 },
        { chunkId: 'k2', n: 2 },
      ],
    }
    const state = replay(
      'researcher',
      { ...started, agent: 'researcher' },
      step(1),
      ...toolCall('s1', 'search_documents', { query: 'q' }, { result: numbered }),
      ...toolCall('t1', 'current_time', {}, { result: { iso: 'x' } }),
      step(2),
      { type: 'message_delta', delta: 'It says so [2' },
    )
    expect(state.citedResults).toEqual([numbered])
    expect(state.prefill).toBe('It says so [2')
  })
})
