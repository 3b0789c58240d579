import { describe, expect, test } from 'bun:test'
import { EventOrderError, EventOrderGuard, type RunEventBody } from '../../../src/runs/events'
import { createUserContext, maybeCurrentContext, runAsUser } from '../../../src/context/user-context'
import { EventPersister, RunJournal, type JournalEntry } from '../../../src/runs/journal'
import type { RunJournalStore, StoredEvent } from '../../../src/db/repositories/runs'

/** An in-memory stand-in for the database side of the journal (the real one is tested in integration). */
function memoryStore(opts: { failTimes?: number; delayMs?: number } = {}) {
  const rows: StoredEvent[] = []
  const batches: number[] = []
  let failures = opts.failTimes ?? 0
  const store = {
    async appendBatch(events: StoredEvent[]) {
      if (opts.delayMs) await Bun.sleep(opts.delayMs)
      if (failures-- > 0) throw new Error('disk full')
      rows.push(...events)
      batches.push(events.length)
    },
    // A batch of one run (all these tests write) is never split; no run is ever deleted here.
    async appendEach() {
      throw new Error('not used: every batch here is of one run')
    },
    async missingRuns() {
      return new Set<string>()
    },
  } as unknown as RunJournalStore
  return { store, rows, batches }
}

function journalWith(store: RunJournalStore, published: JournalEntry[] = []) {
  const persister = new EventPersister(store)
  const journal = new RunJournal('run-1', 'user-1', 'thread-1', 'triage', persister, {
    publish: (_user, entry) => published.push(entry),
  })
  return { journal, persister, published }
}

const started: RunEventBody = { type: 'agent_started', input: 'hi' }
const done: RunEventBody = { type: 'agent_completed', status: 'completed', message: { id: 'm', content: 'ok' } }

describe('event ordering rules', () => {
  const order =
    (...events: RunEventBody[]) =>
    () => {
      const guard = new EventOrderGuard()
      for (const e of events) guard.check(e)
    }
  const exec = (id: string): RunEventBody => ({ type: 'tool_executing', toolCallId: id, tool: 't', args: {} })
  const comp = (id: string): RunEventBody => ({
    type: 'tool_completed',
    toolCallId: id,
    tool: 't',
    ok: true,
    durationMs: 1,
  })

  test('a well-formed run passes', () => {
    expect(
      order(started, { type: 'agent_thinking' }, exec('a'), comp('a'), { type: 'message_delta', delta: 'x' }, done),
    ).not.toThrow()
  })
  test('nothing before agent_started', () => expect(order({ type: 'agent_thinking' })).toThrow(EventOrderError))
  test('agent_started only once', () => expect(order(started, started)).toThrow(EventOrderError))
  test('nothing after agent_completed, not even a second one', () => {
    expect(order(started, done, { type: 'message_delta', delta: 'late' })).toThrow(EventOrderError)
    expect(order(started, done, done)).toThrow(EventOrderError)
  })
  test('tool_completed needs its tool_executing, once', () => {
    expect(order(started, comp('x'))).toThrow(EventOrderError)
    expect(order(started, exec('a'), comp('a'), comp('a'))).toThrow(EventOrderError)
    expect(order(started, exec('a'), exec('a'))).toThrow(EventOrderError)
  })
  test('open tool calls are known', () => {
    const guard = new EventOrderGuard()
    guard.check(started)
    guard.check(exec('a'))
    guard.check(exec('b'))
    guard.check(comp('a'))
    expect(guard.openToolCalls).toEqual(['b'])
  })
})

describe('seq assignment', () => {
  test('1, 2, 3… with no gaps, even when appends race from many async tasks', async () => {
    const { store, rows } = memoryStore()
    const { journal, persister, published } = journalWith(store)
    journal.append(started)
    await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        await Bun.sleep(Math.random() * 5)
        journal.append({ type: 'message_delta', delta: String(i) })
      }),
    )
    journal.append(done)
    await persister.flush()
    const seqs = journal.entries.map((e) => e.event.seq)
    expect(seqs).toEqual(Array.from({ length: 202 }, (_, i) => i + 1))
    expect(rows.map((r) => r.seq)).toEqual(seqs)
    expect(published.map((e) => e.event.seq)).toEqual(seqs)
  })

  test('every event carries runId, threadId, agent and an ISO time; the wire form is the event', () => {
    const { journal } = journalWith(memoryStore().store)
    const event = journal.append(started)
    expect(event).toMatchObject({ runId: 'run-1', threadId: 'thread-1', agent: 'triage', seq: 1 })
    expect(new Date(event.ts).toISOString()).toBe(event.ts)
    expect(JSON.parse(journal.entries[0].wire)).toEqual(event)
  })

  test('a changed agent (handoff) is carried from the next event on', () => {
    const { journal } = journalWith(memoryStore().store)
    journal.append(started)
    journal.append({ type: 'agent_handoff', from: 'triage', to: 'planner' })
    journal.agent = 'planner'
    expect(journal.append(done).agent).toBe('planner')
    expect(journal.entries[1].event.agent).toBe('triage')
  })

  test('a bad order is refused before it gets a seq', () => {
    const { journal } = journalWith(memoryStore().store)
    expect(() => journal.append(done)).toThrow(EventOrderError)
    expect(journal.lastSeq).toBe(0)
  })
})

describe('persistence: group commit, then publish', () => {
  test('events appended in one tick are written in one batch, and published only after it is stored', async () => {
    const { store, rows, batches } = memoryStore({ delayMs: 10 })
    const { journal, persister, published } = journalWith(store)
    journal.append(started)
    for (let i = 0; i < 50; i++) journal.append({ type: 'message_delta', delta: 'x' })
    expect(published).toHaveLength(0) // not on disk yet: nobody sees it
    await persister.flush()
    expect(batches).toEqual([51])
    expect(rows).toHaveLength(51)
    expect(published).toHaveLength(51)
  })

  test('a failing write is retried, and delivery goes on if it keeps failing', async () => {
    /** One event appended to a journal whose store fails its first `failTimes` writes, then flushed. */
    const appendOnce = async (failTimes: number) => {
      const { store, rows } = memoryStore({ failTimes })
      const { journal, persister, published } = journalWith(store)
      journal.append(started)
      await persister.flush()
      return { rows, failures: persister.failures, published }
    }
    const retried = await appendOnce(2)
    expect(retried.rows).toHaveLength(1)
    expect(retried.failures).toBe(0)

    const broken = await appendOnce(99)
    expect(broken.rows).toHaveLength(0)
    expect(broken.failures).toBe(1)
    expect(broken.published).toHaveLength(1)
  })
})

describe('replay boundaries', () => {
  test('since(n) returns exactly the stored events after n', async () => {
    const { journal, persister } = journalWith(memoryStore().store)
    journal.append(started)
    for (let i = 0; i < 5; i++) journal.append({ type: 'message_delta', delta: String(i) })
    await persister.flush()
    expect(journal.since(0).map((e) => e.event.seq)).toEqual([1, 2, 3, 4, 5, 6])
    expect(journal.since(4).map((e) => e.event.seq)).toEqual([5, 6])
    expect(journal.since(6)).toEqual([])
    expect(journal.since(100)).toEqual([])
  })

  test('since() never runs ahead of what is stored and published', async () => {
    const { journal, persister } = journalWith(memoryStore({ delayMs: 5 }).store)
    journal.append(started)
    await persister.flush()
    journal.append({ type: 'message_delta', delta: 'not yet stored' })
    expect(journal.since(0).map((e) => e.event.seq)).toEqual([1])
    await persister.flush()
    expect(journal.since(0).map((e) => e.event.seq)).toEqual([1, 2])
  })

  test('completed only once agent_completed is stored', async () => {
    const { journal, persister } = journalWith(memoryStore({ delayMs: 5 }).store)
    journal.append(started)
    journal.append(done)
    expect(journal.completed).toBe(false)
    await persister.flush()
    expect(journal.completed).toBe(true)
  })

  test('a journal reopened after a crash continues after the stored seq', async () => {
    const persister = new EventPersister(memoryStore().store)
    const journal = new RunJournal('run-1', 'user-1', 'thread-1', 'triage', persister, { publish: () => {} }, 41)
    const closing = journal.append(done)
    expect(closing.seq).toBe(42)
    await persister.flush()
    expect(journal.since(41).map((e) => e.event.seq)).toEqual([42])
    expect(journal.since(0).map((e) => e.event.seq)).toEqual([42])
  })

  test('a stored batch is published inside the deliverBatch it was given, all of it in one call', async () => {
    const { store } = memoryStore()
    const calls: number[] = []
    const published: JournalEntry[] = []
    const persister = new EventPersister(store, {
      deliverBatch: (publishAll) => {
        const before = published.length
        publishAll()
        calls.push(published.length - before)
      },
    })
    const journal = new RunJournal('run-1', 'user-1', 'thread-1', 'triage', persister, {
      publish: (_user, entry) => published.push(entry),
    })
    journal.append(started)
    journal.append({ type: 'message_delta', delta: 'a' })
    journal.append(done)
    expect(published).toHaveLength(0)
    await persister.flush()
    expect(calls).toEqual([3])
    expect(published.map((e) => e.event.seq)).toEqual([1, 2, 3])
  })
})

describe('a held journal (a run whose start is still being written)', () => {
  test('keeps its events from the store and the client until open(), then sends them in order', async () => {
    const { store, rows } = memoryStore()
    const { journal, persister, published } = journalWith(store)
    journal.hold()
    journal.append(started)
    journal.append({ type: 'message_delta', delta: 'early' })
    let durable = false
    const waiting = journal.durable().then(() => (durable = true))
    await persister.flush()
    await Bun.sleep(5)
    expect(rows).toEqual([])
    expect(published).toEqual([])
    expect(durable).toBe(false) // a tool waiting here does not act yet
    journal.open()
    journal.append(done)
    await waiting
    await persister.flush()
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3])
    expect(published.map((e) => e.event.type)).toEqual(['agent_started', 'message_delta', 'agent_completed'])
  })

  test('discard() drops what it held and everything after, and durable() rejects with the reason', async () => {
    const { store, rows } = memoryStore()
    const { journal, persister, published } = journalWith(store)
    journal.hold()
    journal.append(started)
    const waiting = journal.durable()
    journal.discard(new Error('quota exceeded'))
    await expect(waiting).rejects.toThrow('quota exceeded')
    journal.append({ type: 'message_delta', delta: 'late' })
    await persister.flush()
    expect(rows).toEqual([])
    expect(published).toEqual([])
    await expect(journal.durable()).rejects.toThrow('quota exceeded')
  })
})

describe('a batch of many users', () => {
  test('is written and delivered outside any one user context, whoever added the first event', async () => {
    const seen: (string | undefined)[] = []
    const store = {
      async appendBatch() {
        seen.push(maybeCurrentContext()?.userId)
      },
    } as unknown as RunJournalStore
    const delivered: (string | undefined)[] = []
    const persister = new EventPersister(store, {
      deliverBatch: (publishAll) => {
        delivered.push(maybeCurrentContext()?.userId)
        publishAll()
      },
    })
    const row = (userId: string, seq: number) =>
      ({
        runId: `run-${userId}`,
        userId,
        seq,
        type: 'agent_started',
        payload: '{}',
        createdAt: 1,
      }) as unknown as StoredEvent
    await runAsUser(createUserContext({ userId: 'alice', role: 'member' }), async () => {
      persister.add(row('alice', 1), () => {})
    })
    persister.add(row('bob', 1), () => {})
    await runAsUser(createUserContext({ userId: 'alice', role: 'member' }), () => persister.flush())
    expect(seen).toEqual([undefined])
    expect(delivered).toEqual([undefined])
  })
})
