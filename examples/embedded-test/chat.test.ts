/**
 * A downstream project's own test: the chat server runs inside this `bun test` process
 * (createChatServer), answered by the package's scripted Ollama, and two users chat at once
 * over real WebSockets. Each must get the five critical events of their own run — and nothing
 * of the other's.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { type ChatServer, createChatServer } from 'local-chat-server'
import {
  apiFetch,
  type ChatHandler,
  type FakeOllama,
  type Frame,
  lastUserText,
  registerUser,
  startFakeOllama,
  WsClient,
} from 'local-chat-server/testing'

setDefaultTimeout(30_000) // real servers, argon2 and sockets on a busy machine

/** A model that computes: first it calls the calculator on the question, then it says the result. */
const calculatingModel: ChatHandler = (req) => {
  const toolResult = req.messages.findLast((m) => m.role === 'tool')
  if (toolResult) return { content: `It is ${JSON.parse(toolResult.content).value}.` }
  return {
    thinking: 'I should use the calculator.',
    toolCalls: [{ name: 'calculate', arguments: { expression: lastUserText(req.messages) } }],
  }
}

const CRITICAL = ['agent_started', 'agent_thinking', 'tool_executing', 'tool_completed', 'agent_completed']

let ollama: FakeOllama
let server: ChatServer
beforeAll(async () => {
  ollama = await startFakeOllama({ handler: calculatingModel })
  server = await createChatServer({ OLLAMA_HOST: ollama.url, LOG_LEVEL: 'silent', SHUTDOWN_GRACE_MS: '0' })
})
afterAll(async () => {
  await server?.stop()
  await ollama?.close()
})

test('two users each get the five events of their own run, and only those', async () => {
  const api = apiFetch(server.url)
  const alice = await registerUser({ api }, 'alice')
  const bob = await registerUser({ api }, 'bob')
  const aliceWs = await WsClient.connect(server.wsUrl, alice.accessToken)
  const bobWs = await WsClient.connect(server.wsUrl, bob.accessToken)
  try {
    const [aliceRun, bobRun] = await Promise.all([
      aliceWs.chat('6 * 7', { agent: 'data_analyst' }),
      bobWs.chat('100 + 23', { agent: 'data_analyst' }),
    ])
    const [aliceEvents, bobEvents] = await Promise.all([
      aliceWs.completion(aliceRun.runId),
      bobWs.completion(bobRun.runId),
    ])

    expectFiveEvents(aliceEvents, '6 * 7', 'It is 42.')
    expectFiveEvents(bobEvents, '100 + 23', 'It is 123.')
    // Each socket saw run events of its own user's run only.
    const runIdsSeen = (ws: WsClient) => new Set(ws.frames.filter((f) => typeof f.seq === 'number').map((f) => f.runId))
    expect([...runIdsSeen(aliceWs)]).toEqual([aliceRun.runId])
    expect([...runIdsSeen(bobWs)]).toEqual([bobRun.runId])
  } finally {
    aliceWs.close()
    bobWs.close()
  }
})

function expectFiveEvents(events: Frame[], question: string, answer: string) {
  const types = events.map((e) => e.type)
  const positions = CRITICAL.map((type) => types.indexOf(type))
  expect(positions.every((p) => p >= 0)).toBe(true)
  expect([...positions].sort((a, b) => a - b)).toEqual(positions) // in the promised order
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1)) // seq 1..n, no gaps
  expect(events[0]).toMatchObject({ type: 'agent_started', input: question })
  const executing = events[types.indexOf('tool_executing')]
  const completed = events[types.indexOf('tool_completed')]
  expect(executing).toMatchObject({ tool: 'calculate', args: { expression: question } })
  expect(completed).toMatchObject({ toolCallId: executing.toolCallId, ok: true })
  expect(events.at(-1)).toMatchObject({ type: 'agent_completed', status: 'completed', message: { content: answer } })
}
