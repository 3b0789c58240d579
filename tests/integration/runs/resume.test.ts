import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { startChatStack, type ChatStack } from '../../support/chat-stack'
import { registerUser } from '../../support/users'
import { forgeAccessToken } from '../../support/tokens'
import { WsClient, seqProblem, streamedText, type Frame } from '../../support/ws-client'

setDefaultTimeout(30_000) // real servers and sockets on a shared 2-core machine

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz'.repeat(2)
let stack: ChatStack
beforeAll(async () => {
  // A slow, steady stream: one letter every 10 ms, so a run is long enough to cut in the middle.
  stack = await startChatStack({
    env: { JOURNAL_GRACE_MS: '300' },
    handler: () => ({ content: ALPHABET, chunkSize: 1, chunkDelayMs: 10 }),
  })
})
afterAll(() => stack.close())

const runEvents = (ws: WsClient, runId: string) =>
  ws.frames.filter((f) => f.runId === runId && typeof f.seq === 'number')
const deltas = (ws: WsClient, runId: string) => runEvents(ws, runId).filter((e) => e.type === 'message_delta').length

/** A new user on a socket, with a run of `question` that has streamed at least `minDeltas` deltas. */
async function midRun(question: string, minDeltas: number) {
  const { user, ws } = await stack.userWithSocket()
  const { runId } = await ws.chat(question)
  await ws.until(() => deltas(ws, runId) >= minDeltas)
  return { user, ws, runId }
}

describe('resume after a disconnect', () => {
  test('replays exactly the missing events, then continues live: no gap, no duplicate', async () => {
    const user = await registerUser(stack.server)
    const first = await WsClient.connect(stack.server.wsUrl, user.accessToken)
    const { runId } = await first.chat('stream please')
    await first.until(() => deltas(first, runId) >= 5)
    first.close() // the network drops mid-run
    const before = runEvents(first, runId)
    const lastSeq = before.at(-1)!.seq

    await Bun.sleep(50) // the run keeps going without us
    const second = await WsClient.connect(stack.server.wsUrl, user.accessToken)
    second.send({ type: 'resume', runId, afterSeq: lastSeq })
    const after = await second.completion(runId)
    // Whatever arrived live on the new socket before the resume frame is fine too; the union
    // must be exactly 1..n once.
    const all = [...before, ...after]
    expect(seqProblem(all)).toBeUndefined()
    expect(streamedText(all)).toBe(ALPHABET)
    expect(after.at(-1)!.type).toBe('agent_completed')
    second.close()
  })

  test('resume of a finished run served from the database after the journal left memory', async () => {
    const { user, ws } = await stack.userWithSocket()
    const { runId } = await ws.chat('finish first')
    const live = await ws.completion(runId)
    await Bun.sleep(500) // past JOURNAL_GRACE_MS: only the database has it now
    const again = await WsClient.connect(stack.server.wsUrl, user.accessToken)
    again.send({ type: 'resume', runId, afterSeq: 3 })
    const replayed = await again.completion(runId)
    expect(replayed.map((e: Frame) => e.seq)).toEqual(live.slice(3).map((e) => e.seq))
    expect(replayed).toEqual(live.slice(3)) // byte-for-byte the same events
    again.close()
  })

  test("resume of another user's run is not found and shows nothing", async () => {
    const alice = await stack.userWithSocket('alice')
    const bob = await stack.userWithSocket('bob')
    const { runId } = await alice.ws.chat('alice secret')
    bob.ws.send({ type: 'resume', runId, afterSeq: 0 })
    const error = await bob.ws.waitFor((f) => f.type === 'error')
    expect(error.code).toBe('not_found')
    expect(error.runId).toBe(runId) // the client can tell which of its resumes failed
    await alice.ws.completion(runId)
    expect(bob.ws.eventsOf(runId)).toEqual([]) // only the error names it: no event of it
  })
})

describe('HTTP fallback delivery', () => {
  test('GET /api/runs/:id/events?after=N returns the events with seq > N and done', async () => {
    const { user, ws, runId } = await midRun('http please', 3)
    const partial = (await (
      await stack.server.api(`/api/runs/${runId}/events?after=0`, { token: user.accessToken })
    ).json()) as any
    expect(partial.done).toBe(false)
    expect(seqProblem(partial.events)).toBeUndefined()

    // Poll like a client without a socket would, until done.
    let after = partial.events.at(-1).seq
    const collected: Frame[] = [...partial.events]
    for (let i = 0; i < 200; i++) {
      const page = (await (
        await stack.server.api(`/api/runs/${runId}/events?after=${after}`, { token: user.accessToken })
      ).json()) as any
      expect(page.events.every((e: Frame) => e.seq > after)).toBe(true)
      collected.push(...page.events)
      if (page.events.length) after = page.events.at(-1).seq
      if (page.done) break
      await Bun.sleep(20)
    }
    expect(seqProblem(collected)).toBeUndefined()
    expect(collected.at(-1)!.type).toBe('agent_completed')
    expect(collected).toEqual(await ws.completion(runId))
  })

  test("another user's run events are 404; a bad `after` is 400", async () => {
    const alice = await stack.userWithSocket('alice')
    const bob = await registerUser(stack.server, 'bob')
    const { runId } = await alice.ws.chat('mine')
    const foreign = await stack.server.api(`/api/runs/${runId}/events?after=0`, { token: bob.accessToken })
    expect(foreign.status).toBe(404)
    expect(((await foreign.json()) as any).error.code).toBe('not_found')
    expect((await stack.server.api(`/api/runs/${runId}`, { token: bob.accessToken })).status).toBe(404)
    const bad = await stack.server.api(`/api/runs/${runId}/events?after=abc`, { token: alice.user.accessToken })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as any).error.code).toBe('invalid_input')
  })
})

describe('token refresh during an active chat', () => {
  test('re-auth in the middle of a streaming run loses no event', async () => {
    const { user, ws, runId } = await midRun('long answer', 5)
    const refreshed = (await (
      await stack.server.api('/api/auth/refresh', { body: { refreshToken: user.refreshToken } })
    ).json()) as any
    ws.send({ type: 'auth', token: refreshed.accessToken })
    await ws.waitFor((f) => f.type === 'auth_ok')
    const events = await ws.completion(runId)
    expect(seqProblem(events)).toBeUndefined()
    expect(streamedText(events)).toBe(ALPHABET)
    // auth_ok arrived in the middle of the run's events.
    const authIndex = ws.frames.findIndex((f) => f.type === 'auth_ok')
    const runIndexes = ws.frames.flatMap((f, i) => (f.runId === runId && f.seq ? [i] : []))
    expect(authIndex).toBeGreaterThan(runIndexes[0])
    expect(authIndex).toBeLessThan(runIndexes.at(-1)!)
  })

  test('expiry without renewal closes 4401, the run goes on and stays resumable', async () => {
    const short = await startChatStack({
      env: { ACCESS_TOKEN_TTL: '2' },
      handler: () => ({ content: ALPHABET.repeat(3), chunkSize: 1, chunkDelayMs: 20 }),
    })
    try {
      const { user, ws } = await short.userWithSocket()
      const { runId } = await ws.chat('long answer')
      const { code } = await ws.closed
      expect(code).toBe(4401)
      const seen = runEvents(ws, runId)
      expect(seen.at(-1)!.type).not.toBe('agent_completed') // it expired mid-run

      // Back with a token that outlives the rest of the run (as a longer ACCESS_TOKEN_TTL gives).
      const again = await WsClient.connect(
        short.server.wsUrl,
        await forgeAccessToken(short.server.config, { sub: user.id }),
      )
      const afterSeq = seen.at(-1)!.seq
      again.send({ type: 'resume', runId, afterSeq })
      const received = await again.completion(runId)
      // Live events that reached the new socket before its resume frame are allowed (the replay
      // sends them again, as asked); from the replay on, it holds afterSeq+1..n once, in order.
      const rest = received.slice(
        Math.max(
          0,
          received.findLastIndex((e) => e.seq === afterSeq + 1),
        ),
      )
      const all = [...seen, ...rest]
      expect(seqProblem(all)).toBeUndefined()
      expect(streamedText(all)).toBe(ALPHABET.repeat(3))
      again.close()
    } finally {
      await short.close()
    }
  })
})
