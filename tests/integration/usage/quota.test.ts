/**
 * Quotas and usage over a real server, real WebSockets and the scripted Ollama (PROTOCOL.md §5):
 * runs and tokens per rolling 24 h, defaults from QUOTA_*, per-user overrides, `quota_exceeded`
 * with a correct `retryAfter`, refused runs that leave nothing behind and are not counted, and
 * usage per day and model equal to the tokens Ollama reported.
 */
import { test, expect, describe, beforeAll, afterAll, setDefaultTimeout } from 'bun:test'
import { startChatStack, type ChatStack } from '../../support/chat-stack'
import { expectJson } from '../../support/http'
import type { TestUser } from '../../support/users'
import type { WsClient, Frame } from '../../support/ws-client'

setDefaultTimeout(60_000)

const DAY_S = 24 * 60 * 60
let stack: ChatStack
let admin: { user: TestUser; ws: WsClient }

beforeAll(async () => {
  stack = await startChatStack({ env: { QUOTA_RUNS_PER_DAY: '2', OLLAMA_MODEL: 'llama3.2' } })
  admin = await stack.userWithSocket('admin')
})
afterAll(async () => {
  await stack?.close()
})

/** Sends a chat frame; resolves with run_accepted or the error frame. */
/** The admin sets `user`'s quota (null: back to the default); the PATCH must succeed. */
async function setQuota(user: TestUser, quota: Record<string, number> | null) {
  await expectJson(
    await stack.server.api(`/api/admin/users/${user.id}`, {
      method: 'PATCH',
      token: admin.user.accessToken,
      body: { quota },
    }),
  )
}

async function send(ws: WsClient, content: string, extra: Record<string, unknown> = {}): Promise<Frame> {
  const requestId = crypto.randomUUID()
  ws.send({ type: 'chat', requestId, content, ...extra })
  return ws.waitFor((f) => (f.type === 'run_accepted' || f.type === 'error') && f.requestId === requestId)
}

async function completedRun(ws: WsClient, content: string, extra: Record<string, unknown> = {}) {
  const accepted = await send(ws, content, extra)
  expect(accepted.type).toBe('run_accepted')
  const events = await ws.completion(accepted.runId)
  const done = events.find((e) => e.type === 'agent_completed')!
  expect(done.status).toBe('completed')
  return done.usage as { promptTokens: number; completionTokens: number }
}

const usageOf = (token: string, query = '') =>
  stack.server.api(`/api/usage${query}`, { token }).then((r) => expectJson(r))
const threadsOf = (token: string) => stack.server.api('/api/threads', { token }).then((r) => expectJson(r))

describe('runs per day (QUOTA_RUNS_PER_DAY=2)', () => {
  test('the third run within 24 h is refused with quota_exceeded and the seconds until the first one leaves the window', async () => {
    const { user, ws } = await stack.userWithSocket('runner')
    const started = Date.now()
    const first = await completedRun(ws, 'one', { model: 'model-a' })
    const second = await completedRun(ws, 'two', { model: 'model-b' })
    const threadsBefore = (await threadsOf(user.accessToken)).threads.length

    const refused = await send(ws, 'three')
    expect(refused).toMatchObject({ type: 'error', code: 'quota_exceeded', requestId: expect.any(String) })
    expect(refused.message).toMatch(/quota/i)
    // The first run leaves the window 24 h after it was counted: between the start of this
    // test and now, so the wait is at most a day and at least a day minus the time passed.
    const elapsed = Math.ceil((Date.now() - started) / 1000)
    expect(refused.retryAfter).toBeLessThanOrEqual(DAY_S)
    expect(refused.retryAfter).toBeGreaterThanOrEqual(DAY_S - elapsed - 1)

    // Refused: nothing written, nothing counted.
    expect((await threadsOf(user.accessToken)).threads.length).toBe(threadsBefore)
    const usage = await usageOf(user.accessToken)
    const today = new Date().toISOString().slice(0, 10)
    expect(usage.usage.sort((a: any, b: any) => a.model.localeCompare(b.model))).toEqual([
      {
        day: today,
        model: 'model-a',
        runs: 1,
        promptTokens: first.promptTokens,
        completionTokens: first.completionTokens,
      },
      {
        day: today,
        model: 'model-b',
        runs: 1,
        promptTokens: second.promptTokens,
        completionTokens: second.completionTokens,
      },
    ])
    expect(first.promptTokens).toBeGreaterThan(0)
    expect(usage.quota).toMatchObject({
      runsPerDay: 2,
      tokensPerDay: 0,
      runsUsed: 2,
      tokensUsed: first.promptTokens + first.completionTokens + second.promptTokens + second.completionTokens,
    })
    const resetsAt = Date.parse(usage.quota.resetsAt)
    expect(resetsAt).toBeGreaterThanOrEqual(started + DAY_S * 1000)
    expect(resetsAt).toBeLessThanOrEqual(Date.now() + DAY_S * 1000)

    // Another user is not affected by this one's quota.
    const other = await stack.userWithSocket('other')
    await completedRun(other.ws, 'mine')
  })

  test('an admin raises one user’s quota; null puts the default back', async () => {
    const { user, ws } = await stack.userWithSocket('raised')
    await completedRun(ws, 'a')
    await completedRun(ws, 'b')
    expect((await send(ws, 'c')).code).toBe('quota_exceeded')
    await setQuota(user, { runsPerDay: 3 })
    await completedRun(ws, 'c')
    expect((await send(ws, 'd')).code).toBe('quota_exceeded')
    // 0 = no limit for this user.
    await setQuota(user, { runsPerDay: 0 })
    await completedRun(ws, 'd')
    await setQuota(user, null)
    expect((await send(ws, 'e')).code).toBe('quota_exceeded')
    expect((await usageOf(user.accessToken)).quota).toMatchObject({ runsPerDay: 2, runsUsed: 4 })
  })

  test('admins are subject to quotas like everyone else', async () => {
    await completedRun(admin.ws, 'admin one')
    await completedRun(admin.ws, 'admin two')
    expect((await send(admin.ws, 'admin three')).code).toBe('quota_exceeded')
  })
})

describe('tokens per day', () => {
  test('once the tokens Ollama reported reach the limit, the next run waits until they leave the window', async () => {
    const { user, ws } = await stack.userWithSocket('tokens')
    await setQuota(user, { runsPerDay: 0, tokensPerDay: 5 })
    const started = Date.now()
    // Under the limit (0 used): admitted, and it uses more than 5 tokens.
    const usage = await completedRun(ws, 'count my tokens please')
    expect(usage.promptTokens + usage.completionTokens).toBeGreaterThanOrEqual(5)
    const refused = await send(ws, 'again')
    expect(refused).toMatchObject({ type: 'error', code: 'quota_exceeded' })
    expect(refused.retryAfter).toBeLessThanOrEqual(DAY_S)
    expect(refused.retryAfter).toBeGreaterThanOrEqual(DAY_S - Math.ceil((Date.now() - started) / 1000) - 1)
    const mine = await usageOf(user.accessToken)
    expect(mine.quota).toMatchObject({
      runsPerDay: 0,
      tokensPerDay: 5,
      runsUsed: 1,
      tokensUsed: usage.promptTokens + usage.completionTokens,
    })
  })
})

describe('usage reports', () => {
  test('GET /api/usage takes from/to (inclusive UTC days) and refuses bad dates', async () => {
    const { user, ws } = await stack.userWithSocket('ranges')
    await completedRun(ws, 'hello')
    const today = new Date().toISOString().slice(0, 10)
    expect((await usageOf(user.accessToken, `?from=${today}&to=${today}`)).usage).toHaveLength(1)
    expect((await usageOf(user.accessToken, '?from=2020-01-01&to=2020-01-31')).usage).toEqual([])
    for (const q of ['?from=2020-13-01', '?from=yesterday', '?from=2021-01-02&to=2021-01-01', '?to=2021-02-30']) {
      const res = await stack.server.api(`/api/usage${q}`, { token: user.accessToken })
      expect(res.status).toBe(400)
      expect((await res.json()).error.code).toBe('invalid_input')
    }
  })

  test('admins page through everyone’s usage and filter by user; members cannot', async () => {
    const all: any[] = []
    let cursor: string | null = null
    do {
      const body: any = await expectJson(
        await stack.server.api(`/api/admin/usage?limit=1${cursor ? `&cursor=${cursor}` : ''}`, {
          token: admin.user.accessToken,
        }),
      )
      expect(body.usage.length).toBeLessThanOrEqual(1)
      all.push(...body.usage)
      cursor = body.nextCursor
    } while (cursor)
    const users = new Set(all.map((r) => r.userId))
    expect(users.size).toBeGreaterThanOrEqual(5)
    expect(new Set(all.map((r) => `${r.userId}/${r.day}/${r.model}`)).size).toBe(all.length)
    for (const row of all)
      expect(Object.keys(row).sort()).toEqual(['completionTokens', 'day', 'model', 'promptTokens', 'runs', 'userId'])

    const one = all[0].userId
    const filtered = await expectJson(
      await stack.server.api(`/api/admin/usage?userId=${one}&limit=200`, { token: admin.user.accessToken }),
    )
    expect(filtered.usage.length).toBeGreaterThan(0)
    expect(filtered.usage.every((r: any) => r.userId === one)).toBe(true)
    const { user } = await stack.userWithSocket('member')
    expect((await stack.server.api('/api/admin/usage', { token: user.accessToken })).status).toBe(403)
  })
})
