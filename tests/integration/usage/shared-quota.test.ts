/**
 * Quotas hold across processes that share the database (as cluster mode does): two servers on
 * one database file take a burst of chats from one user at once, and exactly the quota is
 * admitted — the admission is one conditional INSERT, atomic in SQLite.
 */
import { test, expect, afterAll, setDefaultTimeout } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTestServer, type TestServer } from '../../support/server'
import { startFakeOllama, type FakeOllama } from '../../support/fake-ollama'
import { registerUser } from '../../support/users'
import { WsClient, type Frame } from '../../support/ws-client'

setDefaultTimeout(60_000)

const dir = mkdtempSync(join(tmpdir(), 'shared-quota-'))
const opened: { close(): Promise<void> | void }[] = []
afterAll(async () => {
  for (const o of opened.reverse()) await o.close()
  rmSync(dir, { recursive: true, force: true })
})

test('two servers on one database admit exactly QUOTA_RUNS_PER_DAY runs of a burst', async () => {
  const ollama: FakeOllama = await startFakeOllama({ handler: () => ({ content: 'ok', chunkDelayMs: 5 }) })
  opened.push(ollama)
  const env = { DATA_DIR: dir, OLLAMA_HOST: ollama.url, QUOTA_RUNS_PER_DAY: '3' }
  const a: TestServer = await startTestServer(env)
  opened.push(a)
  const b: TestServer = await startTestServer(env)
  opened.push(b)
  const user = await registerUser(a, 'burst')
  const sockets = [await WsClient.connect(a.wsUrl, user.accessToken), await WsClient.connect(b.wsUrl, user.accessToken)]
  opened.push({
    close: () => {
      for (const s of sockets) s.close()
    },
  })

  const requests = Array.from({ length: 8 }, (_, i) => ({ ws: sockets[i % 2], requestId: crypto.randomUUID() }))
  for (const r of requests) r.ws.send({ type: 'chat', requestId: r.requestId, content: `burst ${r.requestId}` })
  const answers: Frame[] = await Promise.all(
    requests.map((r) =>
      r.ws.waitFor((f) => (f.type === 'run_accepted' || f.type === 'error') && f.requestId === r.requestId),
    ),
  )

  const accepted = answers.filter((f) => f.type === 'run_accepted')
  const refused = answers.filter((f) => f.type === 'error')
  expect(accepted).toHaveLength(3)
  expect(refused).toHaveLength(5)
  expect(new Set(refused.map((f) => f.code))).toEqual(new Set(['quota_exceeded']))
  for (const f of refused) expect(f.retryAfter).toBeGreaterThan(24 * 3600 - 120)

  // Both servers read the same count.
  for (const server of [a, b]) {
    const usage = (await (await server.api('/api/usage', { token: user.accessToken })).json()) as any
    expect(usage.quota).toMatchObject({ runsPerDay: 3, runsUsed: 3 })
  }
})
