import { describe, expect, test } from 'bun:test'
import {
  agentToolSpecs,
  AGENT_IDS,
  getAgent,
  handoffReason,
  handoffTarget,
  listAgents,
  transferToolNames,
  transferTools,
} from '../../../src/agents/definitions'
import { BUILTIN_TOOL_NAMES, builtinTools } from '../../../src/tools'
import { createToolDispatcher } from '../../../src/tools/dispatcher'

// The services are never called here: only names and specs are read.
const dispatcher = createToolDispatcher(
  builtinTools({ notes: {} as any, datasets: {} as any, messages: {} as any, documents: {} as any }),
  { timeoutMs: 1000 },
)

describe('agent definitions (PROTOCOL.md §4)', () => {
  test('the five agents with the protocol tool lists', () => {
    expect(listAgents().map((a) => a.id)).toEqual([
      'triage',
      'data_analyst',
      'notes_assistant',
      'planner',
      'researcher',
    ])
    expect(getAgent('triage')!.tools).toEqual([])
    expect(getAgent('triage')!.handoffs).toEqual(['data_analyst', 'notes_assistant', 'planner', 'researcher'])
    expect(getAgent('researcher')!.tools).toEqual(['search_documents', 'save_note'])
    expect(getAgent('data_analyst')!.tools).toEqual(['list_datasets', 'query_dataset', 'calculate'])
    expect(getAgent('notes_assistant')!.tools).toEqual(['save_note', 'search_notes', 'search_history'])
    expect(getAgent('planner')!.tools).toEqual(['current_time', 'calculate', 'save_note'])
  })

  test('every agent tool exists among the built-in tools', () => {
    for (const agent of listAgents()) {
      for (const tool of agent.tools) expect(BUILTIN_TOOL_NAMES as readonly string[]).toContain(tool)
      expect(dispatcher.specs(agent.tools)).toHaveLength(agent.tools.length)
    }
    expect([...dispatcher.names()].sort()).toEqual([...BUILTIN_TOOL_NAMES].sort())
  })

  test('every agent has a name, a description and a substantial system prompt', () => {
    for (const agent of listAgents()) {
      expect(agent.name.length).toBeGreaterThan(2)
      expect(agent.description.length).toBeGreaterThan(20)
      expect(agent.systemPrompt.length).toBeGreaterThan(300)
      // Each prompt names the tools it may use, so a small model knows them.
      for (const tool of [...agent.tools, ...transferToolNames(agent)]) expect(agent.systemPrompt).toContain(tool)
    }
    expect(getAgent('data_analyst')!.systemPrompt).toMatch(/upload a CSV/i)
    expect(getAgent('data_analyst')!.systemPrompt).toMatch(/never invent/i)
    expect(getAgent('triage')!.systemPrompt).toMatch(/exactly ONE transfer tool/)
  })

  test('unknown ids and prototype names are not agents', () => {
    for (const id of ['nobody', 'constructor', '__proto__', 'toString', '']) expect(getAgent(id)).toBeUndefined()
    expect(AGENT_IDS).toHaveLength(5)
  })
})

describe('handoffs', () => {
  test('transfer tools are Ollama specs taking {reason}', () => {
    expect(transferTools.map((t) => t.function.name)).toEqual([
      'transfer_to_data_analyst',
      'transfer_to_notes_assistant',
      'transfer_to_planner',
      'transfer_to_researcher',
    ])
    for (const spec of transferTools) {
      expect(spec.type).toBe('function')
      expect(spec.function.parameters).toMatchObject({
        type: 'object',
        properties: { reason: { type: 'string' } },
        required: ['reason'],
      })
    }
  })

  test('handoffTarget maps transfer tools to agents and nothing else', () => {
    expect(handoffTarget('transfer_to_data_analyst')).toBe('data_analyst')
    expect(handoffTarget('transfer_to_notes_assistant')).toBe('notes_assistant')
    expect(handoffTarget('transfer_to_planner')).toBe('planner')
    expect(handoffTarget('transfer_to_researcher', 'triage')).toBe('researcher')
    for (const name of ['transfer_to_triage', 'calculate', 'constructor', '__proto__', 'transfer_to_'])
      expect(handoffTarget(name)).toBeUndefined()
  })

  test('with a source agent, only its own handoffs count', () => {
    expect(handoffTarget('transfer_to_planner', 'triage')).toBe('planner')
    expect(handoffTarget('transfer_to_planner', 'data_analyst')).toBeUndefined()
  })

  test('handoffReason reads objects and JSON strings', () => {
    expect(handoffReason({ reason: 'sales question' })).toBe('sales question')
    expect(handoffReason('{"reason":"plans"}')).toBe('plans')
    expect(handoffReason('{broken')).toBeUndefined()
    expect(handoffReason(null)).toBeUndefined()
  })

  test('agentToolSpecs: dispatched tools then the agent’s transfer tools', () => {
    expect(agentToolSpecs(getAgent('triage')!, dispatcher).map((s) => s.function.name)).toEqual([
      'transfer_to_data_analyst',
      'transfer_to_notes_assistant',
      'transfer_to_planner',
      'transfer_to_researcher',
    ])
    expect(agentToolSpecs(getAgent('researcher')!, dispatcher).map((s) => s.function.name)).toEqual([
      'search_documents',
      'save_note',
    ])
    expect(agentToolSpecs(getAgent('planner')!, dispatcher).map((s) => s.function.name)).toEqual([
      'current_time',
      'calculate',
      'save_note',
    ])
  })
})
