/**
 * Durable runs (PROTOCOL.md §9) with the real entry point as a child process, killed with
 * SIGKILL at each stage of a run that saves a note and then answers: before the model answered,
 * between tool_executing and tool_completed, after tool_completed, and mid-stream. The restart
 * continues the run; its final journal has the shape of one never interrupted (seq 1..n, one
 * agent_started, one agent_completed, the complete answer), no tool call whose completion was
 * stored runs again, and the note is saved once. A run that keeps dying is failed after
 * RUN_RESUME_MAX_ATTEMPTS resumes.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { createClient } from '@libsql/client'
import { join } from 'node:path'
import { useChildServers } from '../../support/child-server'
import { startFakeOllama, type FakeOllama } from '../../support/fake-ollama'
import { registerUser, type TestUser } from '../../support/users'
import { WsClient, seqProblem, streamedText, type Frame } from '../../support/ws-client'

setDefaultTimeout(60_000)

const SECRET = 'crash-resume-test-secret-that-is-long-enough-0123456789'
const FINAL = Array.from({ length: 30 }, (_, i) => `saved${i}`).join(' ') // streamed slowly after the tool
const NOTE = { title: 'Groceries', body: 'milk and eggs' }

/** Gates the scripted model: a held call hangs (the run waits for the model) until released. */
const hold = { first: false, second: false }
let ollama: FakeOllama

beforeAll(async () => {
  ollama = await startFakeOllama({
    handler: (req) => {
      const answering = req.messages.at(-1)?.role !== 'user' // after the tool result (or a prefill)
      if (answering) return hold.second ? { hang: true } : { content: FINAL, chunkSize: 2, chunkDelayMs: 15 }
      return hold.first ? { hang: true } : { toolCalls: [{ name: 'save_note', arguments: NOTE }] }
    },
  })
})
afterAll(async () => {
  await ollama?.close()
})

/** The entry point as a child process on the scripted model. */
const start = useChildServers(() => ({ JWT_SECRET: SECRET, OLLAMA_HOST: ollama.url, LOG_LEVEL: 'info' }))
const get = (base: string, path: string, token: string) =>
  fetch(base + path, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json() as Promise<any>)

/** The stored journal once the run is done (HTTP fallback, every page). */
async function finalJournal(base: string, runId: string, token: string): Promise<Frame[]> {
  for (let i = 0; i < 600; i++) {
    const page = await get(base, `/api/runs/${runId}/events?after=0`, token)
    if (page.done) return page.events
    await Bun.sleep(50)
  }
  throw new Error(`run ${runId} did not finish`)
}

/** Polls a condition that also depends on the scripted model (not only on frames). */
async function waitUntil(check: () => boolean, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(10)
  }
}

/** What a run did, without timing: event types (thinking statuses dropped, delta runs as one), tool calls, outcome. */
function shape(events: Frame[]) {
  const types: string[] = []
  for (const e of events) {
    if (e.type === 'agent_thinking') continue
    const label =
      e.type === 'tool_executing'
        ? `tool_executing ${e.tool} ${JSON.stringify(e.args)}`
        : e.type === 'tool_completed'
          ? `tool_completed ${e.tool} ${e.ok}`
          : e.type === 'agent_completed'
            ? `agent_completed ${e.status}`
            : e.type
    if (label === 'message_delta' && types.at(-1) === 'message_delta') continue
    types.push(label)
  }
  return { types, answer: streamedText(events), content: events.at(-1)?.message?.content }
}

/** Checks a resumed run against the contract and against `reference`, a run never interrupted. */
async function expectContinued(
  base: string,
  user: TestUser,
  runId: string,
  seenBeforeKill: Frame[],
  reference: Frame[],
) {
  const events = await finalJournal(base, runId, user.accessToken)
  expect(seqProblem(events)).toBeUndefined()
  expect(events.slice(0, seenBeforeKill.length)).toEqual(seenBeforeKill)
  expect(events.filter((e) => e.type === 'agent_thinking' && e.status === 'resumed')).toHaveLength(1)
  expect(shape(events)).toEqual(shape(reference))
  expect(events.at(-1)).toMatchObject({ type: 'agent_completed', status: 'completed', message: { content: FINAL } })
  // Each tool call: one tool_executing, one tool_completed, same id.
  const executing = events.filter((e) => e.type === 'tool_executing')
  const completed = events.filter((e) => e.type === 'tool_completed')
  expect(completed.map((e) => e.toolCallId)).toEqual(executing.map((e) => e.toolCallId))
  return { events, completed }
}

/** Starts a run, kills the process with SIGKILL once `killWhen` holds, restarts, and checks the run. */
async function crashAt(stage: { before?: () => void; killWhen: (events: Frame[]) => boolean }) {
  hold.first = hold.second = false
  stage.before?.()
  const first = await start()
  let user: TestUser, ws: WsClient, runId: string
  try {
    user = await registerUser(first, 'crash')
    ws = await WsClient.connect(first.wsUrl, user.accessToken)
    runId = (await ws.chat('remember to buy milk and eggs', { agent: 'notes_assistant' })).runId
    await waitUntil(() => stage.killWhen(ws.eventsOf(runId)), 'the stage to kill at')
  } finally {
    first.proc.kill('SIGKILL') // also when the test fails: no process is left behind
    await first.proc.exited
  }
  ws.close()
  const seen = ws.eventsOf(runId)
  expect(seen.some((e) => e.type === 'agent_completed')).toBe(false)

  hold.first = hold.second = false
  const second = await start({}, first.dir)
  try {
    // The reference: the same request on the restarted server, never interrupted.
    const events = await finalJournal(second.base, runId, user.accessToken)
    const notes = (await get(second.base, '/api/notes', user.accessToken)).notes
    const metrics = await (await fetch(`${second.base}/metrics`)).text()
    expect(metrics).toMatch(/^chat_runs_resumed_total 1$/m)
    const live = await WsClient.connect(second.wsUrl, user.accessToken)
    const reference = await live.completion(
      (await live.chat('remember to buy milk and eggs', { agent: 'notes_assistant' })).runId,
      20_000,
    )
    live.close()
    const checked = await expectContinued(second.base, user, runId, seen, reference)
    return { ...checked, events, notes, seen, requests: ollama.requests }
  } finally {
    second.proc.kill('SIGTERM')
    await second.proc.exited
  }
}

describe('kill -9 at each stage of a run', () => {
  test('before the model answered: the model is asked again and the run completes', async () => {
    const { notes, seen } = await crashAt({
      before: () => (hold.first = true),
      killWhen: (events) => events.some((e) => e.type === 'agent_thinking') && ollama.inFlight() > 0,
    })
    expect(seen.map((e) => e.type)).toEqual(['agent_started', 'agent_thinking'])
    expect(notes.filter((n: any) => n.title === NOTE.title)).toHaveLength(1)
  })

  test('between tool_executing and tool_completed: the call runs again under its id, and the note is saved once', async () => {
    const { notes, completed, seen } = await crashAt({
      killWhen: (events) => events.some((e) => e.type === 'tool_executing'),
    })
    const announced = seen.find((e) => e.type === 'tool_executing')!
    // The call the crash cut is completed under the id it was announced with: no second call.
    expect(completed[0].toolCallId).toBe(announced.toolCallId)
    expect(completed[0].result).toMatchObject({ title: NOTE.title })
    expect(notes.filter((n: any) => n.title === NOTE.title)).toHaveLength(1)
  })

  test('after tool_completed: the tool does not run again; the model gets its stored result', async () => {
    const before = ollama.requests.length
    const { notes, completed, seen } = await crashAt({
      before: () => (hold.second = true),
      killWhen: (events) => events.some((e) => e.type === 'tool_completed') && ollama.inFlight() > 0,
    })
    expect(completed).toHaveLength(1)
    expect(completed[0]).toEqual(seen.find((e) => e.type === 'tool_completed')!)
    expect(notes.filter((n: any) => n.title === NOTE.title)).toHaveLength(1)
    // After the restart the model was asked to answer with the stored tool result in the conversation.
    // (Asks with a tool result last: the held one before the kill, the resumed one, the reference's.)
    const toolAsks = ollama.requests.slice(before).filter((r) => r.messages.at(-1)?.role === 'tool')
    expect(toolAsks).toHaveLength(3)
    expect(toolAsks[1].messages.at(-1)).toMatchObject({ role: 'tool', tool_name: 'save_note' })
    expect(JSON.parse(toolAsks[1].messages.at(-1).content)).toEqual(completed[0].result)
  })

  test('mid-stream: the answer is continued from the text already streamed (prefill)', async () => {
    const before = ollama.requests.length
    const { events, seen } = await crashAt({
      killWhen: (events) => events.filter((e) => e.type === 'message_delta').length >= 3,
    })
    const streamedBefore = streamedText(seen)
    expect(streamedBefore.length).toBeGreaterThan(0)
    expect(streamedBefore.length).toBeLessThan(FINAL.length)
    // The model got the partial answer as a final assistant message, and only the rest was streamed after the crash.
    const prefilled = ollama.requests.slice(before).find((r) => r.messages.at(-1)?.role === 'assistant')
    expect(FINAL.startsWith(prefilled!.messages.at(-1).content)).toBe(true)
    expect(prefilled!.messages.at(-1).content.length).toBeGreaterThanOrEqual(streamedBefore.length)
    expect(streamedText(events)).toBe(FINAL)
  })
})

test('a crash after the note was saved but before tool_completed was stored saves no second note', async () => {
  // The database exactly as such a crash leaves it: the run ran to its end, then everything from
  // tool_completed on is taken back out (the note row stays, as its commit came first).
  hold.first = hold.second = false
  const first = await start()
  const user = await registerUser(first, 'crafted')
  const ws = await WsClient.connect(first.wsUrl, user.accessToken)
  const { runId } = await ws.chat('remember to buy milk and eggs', { agent: 'notes_assistant' })
  const reference = await ws.completion(runId, 20_000)
  ws.close()
  first.proc.kill('SIGKILL')
  await first.proc.exited
  const cut = reference.find((e) => e.type === 'tool_completed')!
  const db = createClient({ url: `file:${join(first.dir, 'data', 'chat.db')}` })
  await db.batch([
    { sql: 'DELETE FROM run_events WHERE run_id = ? AND seq >= ?', args: [runId, cut.seq] },
    { sql: "DELETE FROM messages WHERE run_id = ? AND role = 'assistant'", args: [runId] },
    { sql: "UPDATE runs SET status = 'running', finished_at = NULL WHERE id = ?", args: [runId] },
  ])
  db.close()

  const second = await start({}, first.dir)
  try {
    const { completed } = await expectContinued(second.base, user, runId, reference.slice(0, cut.seq - 1), reference)
    expect(completed[0].toolCallId).toBe(cut.toolCallId)
    expect(completed[0].result).toEqual(cut.result) // the note the first attempt saved, same id
    const notes = (await get(second.base, '/api/notes', user.accessToken)).notes
    expect(notes).toHaveLength(1)
    expect(notes[0]).toMatchObject({ id: cut.result.id, title: NOTE.title })
  } finally {
    second.proc.kill('SIGTERM')
    await second.proc.exited
  }
})

test('a run that takes its process down every time is failed with server_restart after RUN_RESUME_MAX_ATTEMPTS resumes', async () => {
  hold.first = true // the model never answers: every life of the process ends mid-run
  let child = await start()
  const dir = child.dir
  const user = await registerUser(child, 'doomed')
  const ws = await WsClient.connect(child.wsUrl, user.accessToken)
  const { runId } = await ws.chat('this one crashes the server', { agent: 'notes_assistant' })
  await waitUntil(
    () => ws.eventsOf(runId).some((e) => e.type === 'agent_thinking') && ollama.inFlight() > 0,
    'the model call',
  )
  ws.close()
  const stored = async () =>
    (await get(child.base, `/api/runs/${runId}/events?after=0`, user.accessToken)).events as Frame[]
  try {
    // Default RUN_RESUME_MAX_ATTEMPTS = 2: two lives resume it, the third fails it.
    for (let life = 1; life <= 2; life++) {
      const asked = ollama.requests.length
      child.proc.kill('SIGKILL')
      await child.proc.exited
      child = await start({}, dir)
      const deadline = Date.now() + 20_000
      while (ollama.requests.length === asked && Date.now() < deadline) await Bun.sleep(20) // the resumed run asks the model again
      const events = await stored()
      expect(events.filter((e) => e.type === 'agent_thinking' && e.status === 'resumed')).toHaveLength(life)
      expect(events.some((e) => e.type === 'agent_completed')).toBe(false)
    }
    child.proc.kill('SIGKILL')
    await child.proc.exited
    child = await start({}, dir)
    const events = await finalJournal(child.base, runId, user.accessToken)
    expect(seqProblem(events)).toBeUndefined()
    expect(events.at(-1)).toMatchObject({
      type: 'agent_completed',
      status: 'failed',
      error: { code: 'server_restart' },
    })
    expect(events.filter((e) => e.type === 'agent_thinking' && e.status === 'resumed')).toHaveLength(2)
    expect((await get(child.base, `/api/runs/${runId}`, user.accessToken)).run.status).toBe('failed')
  } finally {
    hold.first = false
    child.proc.kill('SIGTERM')
    await child.proc.exited
  }
})
