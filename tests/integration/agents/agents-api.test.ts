/** GET /api/agents over real HTTP (PROTOCOL.md §2 and §4). */
import { expect, test } from 'bun:test'
import { expectError, expectJson } from '../../support/http'
import { useTestServer } from '../../support/fixtures'

const {
  server,
  users: [user],
} = useTestServer({ users: ['agents'] })

test('lists the five agents with their tools', async () => {
  const { agents } = await expectJson(await server.api('/api/agents', { token: user.accessToken }))
  expect(agents.map((a: any) => a.id)).toEqual(['triage', 'data_analyst', 'notes_assistant', 'planner', 'researcher'])
  for (const agent of agents) {
    expect(typeof agent.name).toBe('string')
    expect(typeof agent.description).toBe('string')
    expect(agent).not.toHaveProperty('systemPrompt')
  }
  const tools = Object.fromEntries(agents.map((a: any) => [a.id, a.tools]))
  expect(tools).toEqual({
    triage: [
      'transfer_to_data_analyst',
      'transfer_to_notes_assistant',
      'transfer_to_planner',
      'transfer_to_researcher',
    ],
    data_analyst: ['list_datasets', 'query_dataset', 'calculate'],
    notes_assistant: ['save_note', 'search_notes', 'search_history'],
    planner: ['current_time', 'calculate', 'save_note'],
    researcher: ['search_documents', 'save_note'],
  })
})

test('needs a token', async () => {
  await expectError(await server.api('/api/agents'), 401)
})
