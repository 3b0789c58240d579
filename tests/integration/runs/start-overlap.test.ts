/**
 * A run's model call starts while its start is still being written (src/runs/service.ts): the
 * model's time to first token overlaps the write. Until that write commits nothing of the run
 * reaches the client or the database; a start that cannot be written leaves nothing at all.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { seqProblem, type WsClient } from '../../support/ws-client'
import { useChatStack } from '../../support/fixtures'
import { lastUserText } from '../../support/chat-stack'
import { eventually } from '../../support/eventually'

setDefaultTimeout(30_000)

const count = async (stack: ReturnType<typeof useChatStack>, sql: string, args: string[]) =>
  Number((await stack.server.services.database.client.execute({ sql, args })).rows[0].n)

/** Frames of one chat request: its run_accepted or error, and its run's events. */
function framesOf(ws: WsClient, requestId: string) {
  const accepted = ws.frames.find((f) => f.type === 'run_accepted' && f.requestId === requestId)
  return ws.frames.filter((f) => f.requestId === requestId || (accepted !== undefined && f.runId === accepted.runId))
}

describe('a run starts while its start is written', () => {
  const stack = useChatStack()

  test('the model is asked before the start commits; the client and the database see nothing of the run until then', async () => {
    const { user, ws } = await stack.userWithSocket('overlap')
    const database = stack.server.services.database
    // Keep the writer busy: the run's start (one grouped write) waits behind this.
    const { promise: gate, resolve: release } = Promise.withResolvers<void>()
    const busy = database.write(() => gate)
    const asked = stack.ollama.requests.length
    ws.send({ type: 'chat', requestId: 'overlap-1', content: 'overlap please' })

    // The model is asked, and answers in full, while the start is still waiting to be written.
    await eventually(() => stack.ollama.requests.length > asked, 10_000, 'the model request')
    expect(JSON.stringify(stack.ollama.requests.at(-1))).toContain('overlap please')
    await eventually(() => stack.ollama.inFlight() === 0, 10_000, 'the model to finish answering')
    expect(framesOf(ws, 'overlap-1')).toEqual([])
    expect(await count(stack, 'SELECT count(*) AS n FROM runs WHERE user_id = ?', [user.id])).toBe(0)
    expect(await count(stack, 'SELECT count(*) AS n FROM run_events WHERE user_id = ?', [user.id])).toBe(0)

    release()
    await busy
    const accepted = await ws.waitFor((f) => f.type === 'run_accepted' && f.requestId === 'overlap-1')
    const events = await ws.completion(accepted.runId)
    // run_accepted first, then every event in order, once, ending with the answer.
    expect(framesOf(ws, 'overlap-1')[0]).toBe(accepted)
    expect(seqProblem(events)).toBeUndefined()
    expect(events[0].type).toBe('agent_started')
    expect(events.at(-1)?.type).toBe('agent_completed')
    expect(events.at(-1)?.message.content).toBe('echo: overlap please')
    expect(await count(stack, 'SELECT count(*) AS n FROM run_events WHERE run_id = ?', [accepted.runId])).toBe(
      events.length,
    )
  })
})

describe('a start that cannot be written', () => {
  const stack = useChatStack({ env: { QUOTA_RUNS_PER_DAY: '1' } })

  test('leaves no run, thread, message or event, tells the client why, and stops its model call', async () => {
    const { user, ws } = await stack.userWithSocket('refused')
    const first = await ws.chat('the one run of the day')
    await ws.completion(first.runId)
    const asked = stack.ollama.requests.length

    ws.send({ type: 'chat', requestId: 'refused-1', content: 'one more please' })
    const error = await ws.waitFor((f) => f.type === 'error' && f.requestId === 'refused-1')
    expect(error.code).toBe('quota_exceeded')
    expect(framesOf(ws, 'refused-1')).toEqual([error])
    // Its model call, started while the start was written, is over (stopped or answered, never kept).
    await eventually(() => stack.ollama.inFlight() === 0, 10_000, 'the model call to end')
    expect(stack.ollama.requests.length).toBeLessThanOrEqual(asked + 1)

    const where = [user.id]
    expect(await count(stack, 'SELECT count(*) AS n FROM runs WHERE user_id = ?', where)).toBe(1)
    expect(await count(stack, 'SELECT count(*) AS n FROM threads WHERE user_id = ?', where)).toBe(1)
    expect(await count(stack, 'SELECT count(*) AS n FROM messages WHERE user_id = ?', where)).toBe(2)
    expect(
      await count(stack, 'SELECT count(*) AS n FROM run_events WHERE user_id = ? AND run_id <> ?', [
        user.id,
        first.runId,
      ]),
    ).toBe(0)
    // The run slot is free again: the cap is not held by the refused run.
    expect(stack.server.runtime.runs.active.size).toBe(0)
  })
})

describe('a run that would wait for a model slot anyway', () => {
  const stack = useChatStack({
    env: { OLLAMA_SLOTS: '1' },
    handler: (request) =>
      lastUserText(request.messages) === 'hold the slot' ? { hang: true } : { content: 'answered' },
  })

  test('starts only once its start is written, so a flood does not sit in memory twice', async () => {
    const { ws } = await stack.userWithSocket('slots')
    const llm = stack.server.runtime.llm
    const model = stack.server.config.ollamaModel
    const depth = () => llm.depths?.()[model] ?? 0
    const holding = await ws.chat('hold the slot')
    await eventually(() => stack.ollama.inFlight() === 1, 10_000, 'the slot to be taken')
    const waiting = await ws.chat('wait for the slot')
    await eventually(() => depth() === 1, 10_000, 'a run waiting in the model queue')

    // The writer is held: the next run reaches its write, and with a queue ahead of it, it is
    // not started (not in the model's queue) before that write commits.
    const database = stack.server.services.database
    const { promise: gate, resolve: release } = Promise.withResolvers<void>()
    const busy = database.write(() => gate)
    ws.send({ type: 'chat', requestId: 'late-1', content: 'late' })
    await eventually(() => database.writes.pending >= 2, 10_000, 'the late run to reach its write')
    expect(depth()).toBe(1)
    release()
    await busy
    const late = await ws.waitFor((f) => f.type === 'run_accepted' && f.requestId === 'late-1')
    await eventually(() => depth() === 2, 10_000, 'the late run in the model queue')

    for (const runId of [holding.runId, waiting.runId, late.runId]) ws.send({ type: 'cancel', runId })
    for (const runId of [holding.runId, waiting.runId, late.runId]) {
      const events = await ws.completion(runId)
      expect(events.at(-1)?.status).toBe('cancelled')
    }
  })
})
