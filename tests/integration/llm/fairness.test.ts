/**
 * Fairness through the real server and WebSockets: with one model slot (OLLAMA_SLOTS=1) and a
 * slow scripted model, user A floods 8 runs while user B sends one. B's run gets the model
 * after at most the one call already in progress, and B is told it is queued.
 *
 * The scripted model holds every answer until the test releases it, so "slots" are counted
 * exactly (one release = one slot of model time) and nothing depends on timing.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { lastUserText, startChatStack, type ChatStack } from '../../support/chat-stack'
import type { Reply } from '../../support/fake-ollama'

setDefaultTimeout(30_000) // real servers and sockets on a shared 2-core machine

/** Calls the scripted model is holding, in arrival order. */
const held: { text: string; answer: () => void }[] = []
/** Every call the model received, by the question it answers. */
const received: string[] = []

let stack: ChatStack
beforeAll(async () => {
  stack = await startChatStack({
    env: { OLLAMA_SLOTS: '1', MAX_RUNS_PER_USER: '10' },
    handler: (req) => {
      const text = lastUserText(req.messages)
      received.push(text)
      return new Promise<Reply>((resolve) =>
        held.push({ text, answer: () => resolve({ content: `echo: ${text}`, chunkSize: 4, chunkDelayMs: 2 }) }),
      )
    },
  })
})
afterAll(() => stack.close())

async function until(check: () => boolean, what: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; model received ${JSON.stringify(received)}`)
    await Bun.sleep(10)
  }
}

/** Lets the oldest held call answer: one slot of model time. */
function nextSlot() {
  held.shift()!.answer()
}

describe('the fair queue in front of the model', () => {
  test("a flooding user cannot hold another user's run back by more than one slot", async () => {
    const a = await stack.userWithSocket('flooder')
    const b = await stack.userWithSocket('single')

    const aRuns: string[] = []
    for (let i = 1; i <= 8; i++) aRuns.push((await a.ws.chat(`A-${i}`)).runId)
    // A-1 has the only slot; A-2…A-8 wait in the queue, each told its place.
    await until(() => received.length === 1, 'the first call of A at the model')
    const queuedStatus = (runId: string) =>
      a.ws.eventsOf(runId).find((e) => e.type === 'agent_thinking' && /queued/.test(e.status ?? ''))
    await a.ws.until(() => aRuns.slice(1).every((id) => queuedStatus(id)), 10_000, 'A-2…A-8 queued')
    expect(received).toEqual(['A-1'])

    const bRun = (await b.ws.chat('B-1')).runId
    const bQueued = await b.ws.waitFor(
      (f) => f.runId === bRun && f.type === 'agent_thinking' && /queued/.test(f.status ?? ''),
    )
    expect(bQueued.status).toContain('queued')
    expect(bQueued.status).toContain('1') // next in line, ahead of A's seven
    expect(received).toEqual(['A-1'])

    // One slot: A-1 finishes, and the model's next call is B's.
    nextSlot()
    await until(() => received.length === 2, 'the second call at the model')
    expect(received[1]).toBe('B-1')

    // Then A's queue drains. (Within A, calls keep the order they reached the queue, which
    // need not be the order the runs started: each run first asks the model's capabilities.)
    while (received.length < 9 || held.length > 0) {
      await until(() => held.length > 0, 'a held call')
      nextSlot()
      await Bun.sleep(0)
    }
    expect(received.slice(0, 2)).toEqual(['A-1', 'B-1'])
    expect(received.slice(2).sort()).toEqual(['A-2', 'A-3', 'A-4', 'A-5', 'A-6', 'A-7', 'A-8'])

    const bDone = (await b.ws.completion(bRun)).at(-1)!
    expect(bDone.status).toBe('completed')
    expect(bDone.message.content).toBe('echo: B-1')
    for (const [i, runId] of aRuns.entries()) {
      const done = (await a.ws.completion(runId)).at(-1)!
      expect(done.status).toBe('completed')
      expect(done.message.content).toBe(`echo: A-${i + 1}`)
    }
    // B never saw A's runs, and the queue is empty again.
    expect(b.ws.frames.some((f) => aRuns.includes(f.runId))).toBe(false)
    const ready = (await (await stack.adminReady()).json()) as any
    expect(ready.ollamaQueue).toEqual({ depths: {}, queued: 0, inFlight: 0 })
  })

  test('a cancelled queued run leaves the queue at once and ends cancelled', async () => {
    const { ws } = await stack.userWithSocket('canceller')
    const first = await ws.chat('C-1')
    await until(() => held.length === 1, 'C-1 at the model')
    const second = await ws.chat('C-2')
    await ws.waitFor((f) => f.runId === second.runId && f.type === 'agent_thinking' && /queued/.test(f.status ?? ''))
    ws.send({ type: 'cancel', runId: second.runId })
    const done = (await ws.completion(second.runId)).at(-1)!
    expect(done.status).toBe('cancelled')
    const ready = (await (await stack.adminReady()).json()) as any
    expect(ready.ollamaQueue.queued).toBe(0)
    nextSlot()
    expect((await ws.completion(first.runId)).at(-1)!.status).toBe('completed')
    expect(received.at(-1)).toBe('C-1') // C-2 never reached the model
  })
})
