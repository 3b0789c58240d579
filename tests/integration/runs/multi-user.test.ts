import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { lastUserText, startChatStack, type ChatStack } from '../../support/chat-stack'
import { registerUsers } from '../../support/users'
import { WsClient, seqProblem, streamedText, type Frame } from '../../support/ws-client'

setDefaultTimeout(30_000) // real servers and sockets on a shared 2-core machine

let stack: ChatStack
beforeAll(async () => {
  // Every answer echoes its question slowly, so runs of different users interleave on the wire.
  stack = await startChatStack({
    env: { MAX_RUNS_PER_USER: '4' },
    handler: (req) => {
      const text = lastUserText(req.messages)
      if (text.startsWith('crash-tool'))
        return req.messages.some((m: any) => m.role === 'tool')
          ? { content: 'tool failed, sorry' }
          : { toolCalls: [{ name: 'query_dataset', arguments: { dataset: 'does-not-exist' } }] }
      if (text.startsWith('model-error')) return { streamError: 'model exploded', afterContent: 'partial' }
      return { content: `echo: ${text}`, chunkSize: 3, chunkDelayMs: 1 }
    },
  })
})
afterAll(() => stack.close())

const runEvents = (ws: WsClient, runId: string) =>
  ws.frames.filter((f) => f.runId === runId && typeof f.seq === 'number')

describe('10+ users with several connections each, chatting at once', () => {
  test("every connection sees all of its owner's runs, complete and in order, and nothing else", async () => {
    const USERS = 12
    const CONNECTIONS = 3
    const RUNS = 2
    const users = await registerUsers(stack.server, USERS, 'multi')
    const sockets = await Promise.all(
      users.map((u) =>
        Promise.all(Array.from({ length: CONNECTIONS }, () => WsClient.connect(stack.server.wsUrl, u.accessToken))),
      ),
    )

    // All users start all their runs at once, each from a different connection.
    const started = await Promise.all(
      users.flatMap((u, i) =>
        Array.from({ length: RUNS }, (_, r) =>
          sockets[i][r % CONNECTIONS].chat(`user ${u.id} question ${r}`).then((run) => ({ user: i, r, ...run })),
        ),
      ),
    )
    const runsOf = (i: number) => started.filter((s) => s.user === i)

    // Wait until every connection of every user has seen every one of its owner's runs finish.
    await Promise.all(
      users.flatMap((_, i) => sockets[i].flatMap((ws) => runsOf(i).map((run) => ws.completion(run.runId, 30_000)))),
    )

    for (let i = 0; i < USERS; i++) {
      const mine = new Set(runsOf(i).map((r) => r.runId))
      for (const ws of sockets[i]) {
        const foreign = ws.frames.filter((f) => f.runId && !mine.has(f.runId))
        expect(foreign).toEqual([]) // no event of another user's run, ever
        for (const run of runsOf(i)) {
          const events = runEvents(ws, run.runId)
          expect(seqProblem(events)).toBeUndefined() // no loss, no duplicate, in order
          expect(events[0].type).toBe('agent_started')
          expect(events.at(-1)!.type).toBe('agent_completed')
          expect(events.at(-1)!.status).toBe('completed')
          expect(streamedText(events)).toBe(`echo: user ${users[i].id} question ${run.r}`)
        }
        // Frames outside runs are only this connection's own (ready, run_accepted).
        expect(JSON.stringify(ws.frames)).not.toMatch(
          new RegExp(
            users
              .filter((_, j) => j !== i)
              .map((u) => u.id)
              .join('|'),
          ),
        )
      }
    }
    for (const group of sockets) for (const ws of group) ws.close()
  }, 60_000)
})

describe('failure isolation', () => {
  test("one user's failing runs (tool crash, model error) leave other users' concurrent runs untouched", async () => {
    const [failing, healthy] = await Promise.all([stack.userWithSocket('failing'), stack.userWithSocket('healthy')])
    const [crash, error, ok1, ok2] = await Promise.all([
      failing.ws.chat('crash-tool please', { agent: 'data_analyst' }),
      failing.ws.chat('model-error please'),
      healthy.ws.chat('first healthy question'),
      healthy.ws.chat('second healthy question'),
    ])
    const crashEvents = await failing.ws.completion(crash.runId)
    const errorEvents = await failing.ws.completion(error.runId)
    expect(crashEvents.find((e) => e.type === 'tool_completed')!.ok).toBe(false)
    expect(crashEvents.at(-1)!.status).toBe('completed')
    expect(errorEvents.at(-1)!.status).toBe('failed')

    for (const [run, text] of [
      [ok1, 'first healthy question'],
      [ok2, 'second healthy question'],
    ] as const) {
      const events = await healthy.ws.completion(run.runId)
      expect(seqProblem(events)).toBeUndefined()
      expect(events.at(-1)!.status).toBe('completed')
      expect(streamedText(events)).toBe(`echo: ${text}`)
    }
    expect(healthy.ws.frames.filter((f) => f.runId === crash.runId || f.runId === error.runId)).toEqual([])
  })
})

describe('connections opened mid-run', () => {
  test('receive the rest live, and resume fills in what came before without duplicates', async () => {
    const slow = await startChatStack({
      handler: () => ({ content: 'abcdefghijklmnopqrstuvwxyz', chunkSize: 1, chunkDelayMs: 15 }),
    })
    try {
      const { user, ws: first } = await slow.userWithSocket()
      const { runId } = await first.chat('go')
      await first.until(() => runEvents(first, runId).filter((e) => e.type === 'message_delta').length >= 5)
      const late = await WsClient.connect(slow.server.wsUrl, user.accessToken)
      await late.until(() => runEvents(late, runId).length > 0)
      const firstLive = runEvents(late, runId)[0].seq
      expect(firstLive).toBeGreaterThan(1) // it joined mid-run

      late.send({ type: 'resume', runId, afterSeq: 0 })
      await late.completion(runId)
      await first.completion(runId)
      // From the replay on, the late connection holds the whole run once, in seq order: the
      // replay covers 1..k and the live stream continues at k+1 with no gap and no double.
      const seen = runEvents(late, runId)
      const replayStart = seen.findIndex((e: Frame) => e.seq === 1)
      expect(replayStart).toBeGreaterThan(0) // live events came first, then the replay
      expect(seen.slice(replayStart).map((e: Frame) => e.seq)).toEqual(runEvents(first, runId).map((e) => e.seq))
      expect(streamedText(runEvents(first, runId))).toBe('abcdefghijklmnopqrstuvwxyz')
      late.close()
    } finally {
      await slow.close()
    }
  })
})
