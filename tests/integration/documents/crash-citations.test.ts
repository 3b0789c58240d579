/**
 * Citations survive a crash (PROTOCOL.md §8, §9): the researcher searched, the process was killed
 * with SIGKILL while the model wrote the answer, and the restarted server continues the run. The
 * answer's `[1]` still names the passage numbered 1 in the stored search result (the numbers are
 * taken back from the journal), checked and quoted as in a run never interrupted.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { spawnServer, type ChildServer } from '../../support/child-server'
import { startFakeOllama, type FakeOllama } from '../../support/fake-ollama'
import { registerUser, type TestUser } from '../../support/users'
import { WsClient, type Frame } from '../../support/ws-client'

setDefaultTimeout(60_000)

const SECRET = 'crash-citations-test-secret-that-is-long-enough-0123456789'
const DOCUMENT = 'The harbor ferry leaves at seven every morning. Tickets are sold on the pier.'
const ANSWER = 'The ferry leaves at seven [1].'

let hold = true
let ollama: FakeOllama
const dirs: string[] = []

beforeAll(async () => {
  ollama = await startFakeOllama({
    handler: (req) => {
      if (req.messages.at(-1)?.role === 'user')
        return { toolCalls: [{ name: 'search_documents', arguments: { query: 'ferry' } }] }
      return hold ? { hang: true } : { content: ANSWER }
    },
  })
})
afterAll(async () => {
  await ollama?.close()
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

async function start(dir?: string): Promise<ChildServer & { base: string }> {
  const child = spawnServer({ JWT_SECRET: SECRET, OLLAMA_HOST: ollama.url }, dir)
  if (!dir) dirs.push(child.dir)
  return { ...child, base: await child.url() }
}

async function api(base: string, path: string, token: string, body?: unknown): Promise<any> {
  const res = await fetch(base + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return res.json()
}

async function until<T>(what: string, get: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const value = await get()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(20)
  }
}

test('kill -9 while the researcher answers: the resumed answer keeps its [1] and the citation names that passage', async () => {
  const first = await start()
  let user: TestUser
  let runId: string
  let seen: Frame[]
  try {
    user = await registerUser(
      {
        api: (path, init) =>
          fetch(first.base + path, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(init?.body),
          }),
      },
      'crash-cite',
    )
    const { document } = await api(first.base, '/api/documents', user.accessToken, {
      name: 'ferry.txt',
      text: DOCUMENT,
    })
    await until('the document to be ready', async () => {
      const { document: now } = await api(first.base, `/api/documents/${document.id}`, user.accessToken)
      return now.status === 'ready' ? now : undefined
    })
    const ws = await WsClient.connect(`${first.base.replace('http', 'ws')}/ws`, user.accessToken)
    runId = (await ws.chat('when does the ferry leave?', { agent: 'researcher' })).runId
    // Killed once the search result is stored and the model is writing the answer (held).
    await until('the answer step', () =>
      ws.eventsOf(runId).some((e) => e.type === 'tool_completed') && ollama.inFlight() > 0 ? true : undefined,
    )
    seen = ws.eventsOf(runId)
    ws.close()
  } finally {
    first.proc.kill('SIGKILL')
    await first.proc.exited
  }
  const searched = seen.find((e) => e.type === 'tool_completed')!
  expect(searched).toMatchObject({ tool: 'search_documents', ok: true })
  const passage = searched.result.passages.find((p: any) => p.n === 1)
  expect(passage.text).toContain('seven')

  hold = false
  const second = await start(first.dir)
  try {
    const events: Frame[] = await until('the resumed run to finish', async () => {
      const page = await api(second.base, `/api/runs/${runId}/events?after=0`, user.accessToken)
      return page.done ? page.events : undefined
    })
    expect(events.filter((e) => e.type === 'agent_thinking' && e.status === 'resumed')).toHaveLength(1)
    const done = events.at(-1)!
    expect(done).toMatchObject({ type: 'agent_completed', status: 'completed' })
    expect(done.message.content).toBe(ANSWER)
    expect(done.message.citations).toHaveLength(1)
    expect(done.message.citations[0]).toMatchObject({ n: 1, chunkId: passage.chunkId })
    expect(DOCUMENT).toContain(done.message.citations[0].quote)
  } finally {
    second.proc.kill('SIGTERM')
    await second.proc.exited
  }
})
