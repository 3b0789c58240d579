import { describe, expect, test } from 'bun:test'
import { Ollama, type Message, type Tool } from 'ollama'
import { createDemoBrain, demoBrain } from '../../support/demo-brain'
import { startFakeOllama, type ChatRequestRecord, type ContentReply } from '../../support/fake-ollama'

const tool = (name: string, properties: Record<string, { type: string }> = {}): Tool => ({
  type: 'function',
  function: { name, parameters: { type: 'object', properties } },
})
const TRIAGE = [tool('transfer_to_data_analyst'), tool('transfer_to_notes_assistant'), tool('transfer_to_planner')]
const ANALYST = [tool('list_datasets'), tool('query_dataset')]
const NOTES = [
  tool('save_note', { title: { type: 'string' }, body: { type: 'string' } }),
  tool('search_notes', { query: { type: 'string' } }),
]
const PLANNER = [tool('current_time')]

const DATASETS = {
  datasets: [
    {
      id: 'd1',
      name: 'sales',
      columns: [
        { name: 'date', type: 'date' },
        { name: 'region', type: 'text' },
        { name: 'amount', type: 'number' },
      ],
      rowCount: 120,
    },
  ],
}

function ask(messages: any[], tools?: Tool[]): ContentReply {
  const req: ChatRequestRecord = { model: 'llama3.2', messages, tools, receivedAt: Date.now() }
  return demoBrain(req, { callIndex: 0 }) as ContentReply
}
const user = (content: string) => ({ role: 'user', content })
const toolMsg = (tool_name: string, result: unknown) => ({ role: 'tool', tool_name, content: JSON.stringify(result) })
const calls = (r: ContentReply) => (r.toolCalls ?? []).map((c) => c.name)

describe('triage', () => {
  test.each([
    ['which region sells most in my sales csv?', 'transfer_to_data_analyst'],
    ['what is the average of my dataset?', 'transfer_to_data_analyst'],
    ['remember my notes from yesterday', 'transfer_to_notes_assistant'],
    ['plan my day for tomorrow', 'transfer_to_planner'],
  ])('%p → %p', (question, expected) => {
    const r = ask([{ role: 'system', content: 'You are triage.' }, user(question)], TRIAGE)
    expect(calls(r)).toEqual([expected])
    expect(typeof r.toolCalls![0]!.arguments.reason).toBe('string')
    expect(r.content).toBe('')
  })

  test('answers directly when nothing matches', () => {
    const r = ask([user('hi there')], TRIAGE)
    expect(r.toolCalls).toBeUndefined()
    expect(r.content).toContain('Focus on')
  })

  test('only routes to transfer tools that exist', () => {
    const r = ask([user('plan my sales csv review')], [tool('transfer_to_planner')])
    expect(calls(r)).toEqual(['transfer_to_planner'])
  })
})

describe('data analyst', () => {
  test('lists datasets, then queries the first one, then summarises with an action', () => {
    const q = user('which region sells most?')
    expect(calls(ask([q], ANALYST))).toEqual(['list_datasets'])
    expect(ask([q], ANALYST).toolCalls![0]!.arguments).toEqual({})

    const second = ask([q, { role: 'assistant', content: '' }, toolMsg('list_datasets', DATASETS)], ANALYST)
    expect(second.toolCalls).toEqual([
      {
        name: 'query_dataset',
        arguments: {
          dataset: 'sales',
          groupBy: ['region'],
          aggregate: { fn: 'sum', column: 'amount' },
          orderBy: { column: 'sum_amount', dir: 'desc' },
        },
      },
    ])

    const result = {
      columns: ['region', 'sum_amount'],
      rows: [
        ['East', 900],
        ['West', 1500],
        ['North', 300],
      ],
    }
    const third = ask([q, toolMsg('list_datasets', DATASETS), toolMsg('query_dataset', result)], ANALYST)
    expect(third.toolCalls).toBeUndefined()
    expect(third.content).toStartWith('West has the largest sum_amount (1,500)')
    expect(third.content).toContain('East 900')
    expect(third.content).toContain('Focus on West')
  })

  test('summarises object rows too', () => {
    const result = {
      columns: [{ name: 'region' }, { name: 'sum_amount' }],
      rows: [
        { region: 'A', sum_amount: 1 },
        { region: 'B', sum_amount: 5 },
      ],
    }
    expect(ask([user('x'), toolMsg('query_dataset', result)], ANALYST).content).toStartWith('B has the largest')
  })

  test('starts working right after a hand-off instead of summarising the transfer', () => {
    const r = ask([user('which region sells most?'), toolMsg('transfer_to_data_analyst', { ok: true })], ANALYST)
    expect(calls(r)).toEqual(['list_datasets'])
  })

  test('infers the tool of a result without tool_name from the preceding tool call', () => {
    const messages = [
      user('top region?'),
      { role: 'assistant', content: '', tool_calls: [{ function: { name: 'list_datasets', arguments: {} } }] },
      { role: 'tool', content: JSON.stringify(DATASETS) },
    ]
    expect(calls(ask(messages, ANALYST))).toEqual(['query_dataset'])
  })
})

describe('notes assistant', () => {
  test('saves a note when asked to remember, using the schema’s argument names', () => {
    const r = ask([user('Please remember that the dentist is on Friday at 3pm')], NOTES)
    expect(r.toolCalls).toEqual([
      {
        name: 'save_note',
        arguments: { title: 'The dentist is on Friday at…', body: 'The dentist is on Friday at 3pm' },
      },
    ])
    const custom = ask(
      [user('remember: buy milk')],
      [tool('save_note', { name: { type: 'string' }, text: { type: 'string' } })],
    )
    expect(custom.toolCalls![0]!.arguments).toEqual({ name: 'Buy milk', text: 'Buy milk' })
  })

  test('searches notes with key words otherwise', () => {
    const r = ask([user('What did I write about the dentist appointment?')], NOTES)
    expect(r.toolCalls).toEqual([{ name: 'search_notes', arguments: { query: 'write dentist appointment' } }])
  })

  test('confirms a saved note and summarises a search', () => {
    expect(
      ask([user('remember x'), toolMsg('save_note', { id: 7, title: 'Dentist Friday' })], NOTES).content,
    ).toContain('"Dentist Friday"')
    const found = ask(
      [user('dentist?'), toolMsg('search_notes', { notes: [{ title: 'Dentist Friday', body: 'at 3pm' }] })],
      NOTES,
    )
    expect(found.content).toContain('I found 1 note: Dentist Friday')
    expect(found.content).toContain('Focus on')
  })
})

describe('planner', () => {
  test('asks for the time, then plans with it', () => {
    const q = user('plan my afternoon of writing the report')
    expect(calls(ask([q], PLANNER))).toEqual(['current_time'])
    const plan = ask([q, toolMsg('current_time', { now: '2025-03-04T13:00:00Z' })], PLANNER)
    expect(plan.content).toContain('Tue, 04 Mar 2025 13:00:00 GMT')
    expect(plan.content).toContain('Focus on')
  })

  test('asks again for the time on a new question', () => {
    const messages = [
      user('plan today'),
      toolMsg('current_time', { now: '2025-03-04T13:00:00Z' }),
      { role: 'assistant', content: 'ok' },
      user('and tomorrow?'),
    ]
    expect(calls(ask(messages, PLANNER))).toEqual(['current_time'])
  })
})

describe('general', () => {
  test('always thinks', () => {
    for (const r of [ask([user('hi')]), ask([user('sales csv')], TRIAGE), ask([user('x')], ANALYST)]) {
      expect(r.thinking).toStartWith('Looking at the request')
    }
  })

  test('makes a short title when asked for one without tools', () => {
    const r = ask([
      { role: 'system', content: 'Write a short title for this conversation.' },
      user('how do I bake sourdough bread at home quickly'),
    ])
    expect(r.content).toBe('How do I bake sourdough bread')
  })

  test('reports tool errors', () => {
    expect(ask([user('x'), toolMsg('query_dataset', { error: 'unknown column' })], ANALYST).content).toContain(
      'unknown column',
    )
  })

  test('createDemoBrain passes chunking options through', () => {
    const brain = createDemoBrain({ chunkSize: 2, chunkDelayMs: 5 })
    const r = brain({ model: 'm', messages: [user('hi')], receivedAt: 0 }, { callIndex: 0 }) as ContentReply
    expect([r.chunkSize, r.chunkDelayMs]).toEqual([2, 5])
  })
})

test('a full data-analyst loop through the real client', async () => {
  const fake = await startFakeOllama({ handler: demoBrain })
  try {
    const client = new Ollama({ host: fake.url })
    const messages: Message[] = [user('which region sells most?')]
    const results: Record<string, unknown> = {
      list_datasets: DATASETS,
      query_dataset: {
        columns: ['region', 'sum_amount'],
        rows: [
          ['West', 10],
          ['East', 4],
        ],
      },
    }
    for (let turn = 0; turn < 5; turn++) {
      const res = await client.chat({ model: 'llama3.2', messages, tools: ANALYST, think: true })
      messages.push(res.message)
      if (!res.message.tool_calls?.length) break
      for (const call of res.message.tool_calls) {
        messages.push({
          role: 'tool',
          tool_name: call.function.name,
          content: JSON.stringify(results[call.function.name]),
        })
      }
    }
    expect(fake.requests).toHaveLength(3)
    expect(messages.at(-1)!.content).toContain('West has the largest sum_amount (10)')
    expect(messages.at(-1)!.thinking).toStartWith('Looking at the request')
  } finally {
    await fake.close()
  }
})
