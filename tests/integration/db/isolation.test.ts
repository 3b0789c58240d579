/**
 * Row-level isolation in the data layer (src/db): scoped repositories read `currentUser()`,
 * and the composite foreign keys refuse a child row under another user's parent even when no
 * repository is involved. Real libsql file, real migrations, real user contexts.
 */
import { test, expect, describe, setDefaultTimeout } from 'bun:test'
import fc from 'fast-check'
import { asUser, createDbUsers } from '../../support/db'
import { useTestDatabase } from '../../support/fixtures'
import { MissingUserContextError, onIsolationGuard, runWithoutUser } from '../../../src/context/user-context'
import { NotFoundError } from '../../../src/http/errors'
import type { UserView } from '../../../src/db/repositories/users'

// A hang guard, not a speed bound: argon2 and real servers are slow on a loaded 2-core machine.
// Set per file because bun 1.4 applies a preload's setDefaultTimeout to the first file only.
setDefaultTimeout(30_000)

const t = useTestDatabase()

/** An error's message with its causes (drizzle wraps the libsql error in `cause`). */
const errorText = (error: any): string => (error ? `${String(error)} ${errorText(error.cause)}` : '')

const runInput = (threadId: string) => ({
  id: crypto.randomUUID(),
  threadId,
  agent: 'triage',
  model: 'llama3.2',
  input: 'hi',
})

/** Resolves to the rejection of `p` (fails when it resolves). */
async function rejection(p: Promise<unknown>): Promise<any> {
  return p.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`)
    },
    (error) => error,
  )
}

describe('scoped repositories', () => {
  test('concurrent users see only their own threads, messages and runs', async () => {
    const { threads, messages, runs } = t.repos
    const users = await createDbUsers(t.database, 4, 'concurrent')

    // Every user writes at the same time, interleaved with the others.
    const made = await Promise.all(
      users.map((user) =>
        asUser(user, async () => {
          const mine = []
          for (let i = 0; i < 4; i++) {
            const thread = await threads.create(`${user.name} thread ${i}`)
            const msgs = []
            for (let j = 0; j < 3; j++)
              msgs.push(await messages.add({ threadId: thread.id, role: 'user', content: `${user.name} says ${j}` }))
            const run = await runs.create(runInput(thread.id))
            mine.push({ thread, msgs, run })
          }
          return mine
        }),
      ),
    )

    // And every user reads at the same time.
    await Promise.all(
      users.map((user, u) =>
        asUser(user, async () => {
          const listed = await threads.list()
          expect(listed.map((x) => x.id).sort()).toEqual(made[u].map((m) => m.thread.id).sort())
          for (const { thread, msgs, run } of made[u]) {
            expect(await messages.listForThread(thread.id)).toEqual(msgs)
            expect((await runs.get(run.id)).threadId).toBe(thread.id)
          }
          // Nothing of anyone else, by any route.
          for (const [o, other] of made.entries()) {
            if (o === u) continue
            for (const { thread, run } of other) {
              expect(await threads.exists(thread.id)).toBe(false)
              expect(await messages.listForThread(thread.id)).toEqual([])
              expect(await messages.recent(thread.id, 10)).toEqual([])
              expect(await runs.find(run.id)).toBeUndefined()
            }
          }
          const found = await messages.search('says', 100)
          expect(found.length).toBe(12)
          expect(new Set(found.map((f) => f.threadId))).toEqual(new Set(made[u].map((m) => m.thread.id)))
        }),
      ),
    )
  })

  test("another user's thread and run are not found, and cannot be changed", async () => {
    const { threads, messages, runs, journal } = t.repos
    const [owner, intruder] = await createDbUsers(t.database, 2, 'notfound')
    const { thread, run } = await asUser(owner, async () => {
      const created = await threads.create('private')
      await messages.add({ threadId: created.id, role: 'user', content: 'secret plans' })
      const run = await runs.create(runInput(created.id))
      // As the owner left it (adding a message marks the thread active).
      return { thread: await threads.get(created.id), run }
    })
    await journal.appendBatch([
      { runId: run.id, seq: 1, userId: owner.id, type: 'agent_started', data: '{"type":"agent_started"}' },
    ])

    await asUser(intruder, async () => {
      expect(await rejection(threads.get(thread.id))).toBeInstanceOf(NotFoundError)
      expect(await rejection(threads.rename(thread.id, 'mine now'))).toBeInstanceOf(NotFoundError)
      expect(await rejection(threads.remove(thread.id))).toBeInstanceOf(NotFoundError)
      await threads.touch(thread.id)
      expect(await threads.exists(thread.id)).toBe(false)
      expect(await threads.list()).toEqual([])
      expect(await messages.listForThread(thread.id)).toEqual([])
      expect(await messages.search('secret plans', 10)).toEqual([])
      expect(await rejection(runs.get(run.id))).toBeInstanceOf(NotFoundError)
      expect(await runs.find(run.id)).toBeUndefined()
      expect(await runs.eventsAfter(run.id, 0)).toEqual([])
      await runs.finish(run.id, 'cancelled')
    })

    await asUser(owner, async () => {
      const after = await threads.get(thread.id)
      expect(after.title).toBe('private')
      expect(after.updatedAt).toBe(thread.updatedAt)
      expect((await runs.get(run.id)).status).toBe('running')
      expect(await runs.eventsAfter(run.id, 0)).toEqual(['{"type":"agent_started"}'])
      expect((await messages.listForThread(thread.id)).map((m) => m.content)).toEqual(['secret plans'])
    })
  })

  test("a message or run under another user's thread is refused by the composite foreign keys", async () => {
    const { threads, messages, runs } = t.repos
    const [owner, intruder] = await createDbUsers(t.database, 2, 'fk')
    const { thread, run } = await asUser(owner, async () => {
      const thread = await threads.create('owned')
      return { thread, run: await runs.create(runInput(thread.id)) }
    })

    // Through the repositories: the row is stamped with the intruder's id, which the key refuses.
    await asUser(intruder, async () => {
      expect(
        errorText(await rejection(messages.add({ threadId: thread.id, role: 'user', content: 'injected' }))),
      ).toMatch(/FOREIGN KEY/i)
      expect(errorText(await rejection(runs.create(runInput(thread.id))))).toMatch(/FOREIGN KEY/i)
    })

    // Bypassing every repository with raw SQL: still refused.
    const raw = (sql: string, args: (string | number)[]) => t.database.client.execute({ sql, args })
    const now = Date.now()
    expect(
      errorText(
        await rejection(
          raw('INSERT INTO messages (id, user_id, thread_id, role, content, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
            crypto.randomUUID(),
            intruder.id,
            thread.id,
            'user',
            'x',
            now,
          ]),
        ),
      ),
    ).toMatch(/FOREIGN KEY/i)
    expect(
      errorText(
        await rejection(
          raw(
            'INSERT INTO runs (id, user_id, thread_id, status, agent, model, input, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
            [crypto.randomUUID(), intruder.id, thread.id, 'running', 'triage', 'm', 'x', now],
          ),
        ),
      ),
    ).toMatch(/FOREIGN KEY/i)
    expect(
      errorText(
        await rejection(
          raw('INSERT INTO run_events (run_id, seq, user_id, type, data, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
            run.id,
            1,
            intruder.id,
            'agent_started',
            '{}',
            now,
          ]),
        ),
      ),
    ).toMatch(/FOREIGN KEY/i)
    // Moving an existing row to another user is refused too.
    await asUser(owner, () => messages.add({ threadId: thread.id, role: 'user', content: 'mine' }))
    expect(
      errorText(await rejection(raw('UPDATE messages SET user_id = ? WHERE thread_id = ?', [intruder.id, thread.id]))),
    ).toMatch(/FOREIGN KEY/i)
    expect(errorText(await rejection(raw('UPDATE runs SET user_id = ? WHERE id = ?', [intruder.id, run.id])))).toMatch(
      /FOREIGN KEY/i,
    )

    const count = await raw('SELECT count(*) AS n FROM messages WHERE user_id = ?', [intruder.id])
    expect(Number(count.rows[0].n)).toBe(0)
  })

  test('deleting a thread takes its messages, runs and events with it, and nothing of others', async () => {
    const { threads, messages, runs, journal } = t.repos
    const [a, b] = await createDbUsers(t.database, 2, 'cascade')
    const made = await Promise.all(
      [a, b].map((user) =>
        asUser(user, async () => {
          const thread = await threads.create('to delete')
          await messages.add({ threadId: thread.id, role: 'user', content: 'hello' })
          const run = await runs.create(runInput(thread.id))
          return { thread, run }
        }),
      ),
    )
    await journal.appendBatch(
      made.map(({ run }, i) => ({ runId: run.id, seq: 1, userId: [a, b][i].id, type: 'agent_started', data: '{}' })),
    )

    await asUser(a, () => threads.remove(made[0].thread.id))

    const left = async (table: string, column: string, id: string) =>
      Number(
        (await t.database.client.execute({ sql: `SELECT count(*) AS n FROM ${table} WHERE ${column} = ?`, args: [id] }))
          .rows[0].n,
      )
    expect(await left('messages', 'thread_id', made[0].thread.id)).toBe(0)
    expect(await left('runs', 'thread_id', made[0].thread.id)).toBe(0)
    expect(await left('run_events', 'run_id', made[0].run.id)).toBe(0)
    expect(await left('messages', 'thread_id', made[1].thread.id)).toBe(1)
    expect(await left('runs', 'thread_id', made[1].thread.id)).toBe(1)
    expect(await left('run_events', 'run_id', made[1].run.id)).toBe(1)
  })

  test('outside a user context the repositories refuse to read or write anything', async () => {
    const { threads, messages, runs } = t.repos
    const [user] = await createDbUsers(t.database, 1, 'nocontext')
    const thread = await asUser(user, () => threads.create('exists'))
    const before = Number((await t.database.client.execute('SELECT count(*) AS n FROM threads')).rows[0].n)

    const told: unknown[] = []
    const stop = onIsolationGuard((e) => told.push(e))
    try {
      const attempts: (() => Promise<unknown>)[] = [
        () => threads.list(),
        () => threads.get(thread.id),
        () => threads.create('orphan'),
        () => threads.remove(thread.id),
        () => messages.listForThread(thread.id),
        () => messages.add({ threadId: thread.id, role: 'user', content: 'orphan' }),
        () => runs.create(runInput(thread.id)),
      ]
      for (const attempt of attempts) {
        expect(await rejection(attempt())).toBeInstanceOf(MissingUserContextError)
        expect(await rejection(runWithoutUser(attempt))).toBeInstanceOf(MissingUserContextError)
      }
      // A context that has ended does not linger for later work.
      await asUser(user, async () => {})
      expect(await rejection(threads.list())).toBeInstanceOf(MissingUserContextError)
      expect(told.length).toBe(attempts.length * 2 + 1)
    } finally {
      stop()
    }
    const after = Number((await t.database.client.execute('SELECT count(*) AS n FROM threads')).rows[0].n)
    expect(after).toBe(before)
    expect(await asUser(user, () => threads.exists(thread.id))).toBe(true)
  })
})

describe('writes under load', () => {
  test('200 contexts writing at once never fail (no SQLITE_BUSY) and each row lands with its owner', async () => {
    const { threads, messages, runs } = t.repos
    const users = await createDbUsers(t.database, 4, 'load')
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) =>
        asUser(users[i % users.length], async () => {
          const thread = await threads.create(`load ${i}`)
          await messages.add({ threadId: thread.id, role: 'user', content: `message ${i}` })
          await threads.touch(thread.id)
          const run = await runs.create(runInput(thread.id))
          await runs.finish(run.id, 'completed')
          return thread.id
        }),
      ),
    )
    const failures = results
      .filter((r) => r.status === 'rejected')
      .map((r) => String((r as PromiseRejectedResult).reason))
    expect(failures).toEqual([])

    await Promise.all(
      users.map((user, u) =>
        asUser(user, async () => {
          const listed = await threads.list()
          expect(listed.length).toBe(50)
          for (const thread of listed) {
            const i = Number(thread.title.split(' ')[1])
            expect(i % users.length).toBe(u)
            expect((await messages.listForThread(thread.id)).map((m) => m.content)).toEqual([`message ${i}`])
          }
        }),
      ),
    )
  })
})

describe('property: random interleaved operations never cross users', () => {
  type Op =
    | { kind: 'createThread'; title: string }
    | { kind: 'listThreads' }
    | { kind: 'getThread'; target: number }
    | { kind: 'rename'; target: number; title: string }
    | { kind: 'deleteThread'; target: number }
    | { kind: 'addMessage'; target: number; content: string }
    | { kind: 'listMessages'; target: number }
    | { kind: 'createRun'; target: number }
    | { kind: 'getRun'; target: number }
    | { kind: 'finishRun'; target: number }

  const title = fc.string({ minLength: 1, maxLength: 20 })
  const target = fc.nat({ max: 1000 })
  const op: fc.Arbitrary<Op> = fc.oneof(
    { arbitrary: fc.record({ kind: fc.constant('createThread' as const), title }), weight: 3 },
    fc.record({ kind: fc.constant('listThreads' as const) }),
    fc.record({ kind: fc.constant('getThread' as const), target }),
    fc.record({ kind: fc.constant('rename' as const), target, title }),
    fc.record({ kind: fc.constant('deleteThread' as const), target }),
    {
      arbitrary: fc.record({ kind: fc.constant('addMessage' as const), target, content: fc.string({ maxLength: 30 }) }),
      weight: 2,
    },
    fc.record({ kind: fc.constant('listMessages' as const), target }),
    fc.record({ kind: fc.constant('createRun' as const), target }),
    fc.record({ kind: fc.constant('getRun' as const), target }),
    fc.record({ kind: fc.constant('finishRun' as const), target }),
  )
  /** Per user: a list of operations, each followed by how to yield before the next one. */
  const script = fc.array(fc.tuple(op, fc.constantFrom('none', 'microtask', 'timer')), { minLength: 1, maxLength: 18 })

  interface ModelThread {
    title: string
    messages: string[]
    runs: Map<string, 'running' | 'completed'>
  }

  test('checked against a per-user model', async () => {
    const { threads, messages, runs } = t.repos

    await fc.assert(
      fc.asyncProperty(fc.array(script, { minLength: 3, maxLength: 4 }), async (scripts) => {
        const users: UserView[] = await createDbUsers(t.database, scripts.length, 'prop')
        // Shared by everybody: every thread and run id ever made, and who owns it. Targets index
        // into these, so users keep reaching for each other's (and deleted) rows.
        const threadIds: string[] = []
        const runIds: string[] = []
        const ownerOf = new Map<string, string>()
        const model = new Map(users.map((u) => [u.id, new Map<string, ModelThread>()]))
        const problems: string[] = []
        const pick = (ids: string[], n: number) => (ids.length ? ids[n % ids.length] : crypto.randomUUID())

        const yieldBy = (how: string) =>
          how === 'timer' ? new Promise((r) => setTimeout(r, 0)) : how === 'microtask' ? Promise.resolve() : undefined

        /** Expects a NotFound for a row that is not the user's own (or no longer exists). */
        const expectNotFound = async (what: string, p: Promise<unknown>) => {
          const outcome = await p.then(
            (v) => ({ ok: true as const, v }),
            (e) => ({ ok: false as const, e }),
          )
          if (outcome.ok || !(outcome.e instanceof NotFoundError))
            problems.push(
              `${what}: expected not found, got ${outcome.ok ? JSON.stringify(outcome.v) : String(outcome.e)}`,
            )
        }
        const expectRefused = async (what: string, p: Promise<unknown>) => {
          const outcome = await p.then(
            (v) => ({ ok: true as const, v }),
            (e) => ({ ok: false as const, e }),
          )
          if (outcome.ok || !/FOREIGN KEY/i.test(errorText(outcome.e)))
            problems.push(`${what}: expected a foreign key refusal, got ${outcome.ok ? 'success' : String(outcome.e)}`)
        }

        async function play(user: UserView, ops: [Op, string][]) {
          const mine = model.get(user.id)!
          const runThread = new Map<string, string>()
          for (const [o, how] of ops) {
            const threadId = 'target' in o ? pick(threadIds, o.target) : ''
            const own = mine.get(threadId)
            const label = `${user.name} ${o.kind} ${threadId} (owner ${ownerOf.get(threadId) === user.id ? 'me' : 'other'})`
            switch (o.kind) {
              case 'createThread': {
                const created = await threads.create(o.title)
                threadIds.push(created.id)
                ownerOf.set(created.id, user.id)
                mine.set(created.id, { title: o.title, messages: [], runs: new Map() })
                break
              }
              case 'listThreads': {
                const listed = await threads.list()
                const foreign = listed.filter((x) => !mine.has(x.id))
                if (foreign.length || listed.length !== mine.size)
                  problems.push(`${label}: listed ${listed.map((x) => x.id)} but owns ${[...mine.keys()]}`)
                for (const x of listed)
                  if (mine.get(x.id)?.title !== x.title) problems.push(`${label}: title of ${x.id} is ${x.title}`)
                break
              }
              case 'getThread':
                if (own) {
                  const got = await threads.get(threadId)
                  if (got.title !== own.title) problems.push(`${label}: title ${got.title} != ${own.title}`)
                } else await expectNotFound(label, threads.get(threadId))
                break
              case 'rename':
                if (own) {
                  await threads.rename(threadId, o.title)
                  own.title = o.title
                } else await expectNotFound(label, threads.rename(threadId, o.title))
                break
              case 'deleteThread':
                if (own) {
                  await threads.remove(threadId)
                  mine.delete(threadId)
                } else await expectNotFound(label, threads.remove(threadId))
                break
              case 'addMessage':
                if (own) {
                  await messages.add({ threadId, role: 'user', content: o.content })
                  own.messages.push(o.content)
                } else await expectRefused(label, messages.add({ threadId, role: 'user', content: o.content }))
                break
              case 'listMessages': {
                const listed = (await messages.listForThread(threadId)).map((m) => m.content)
                const expected = own?.messages ?? []
                if (JSON.stringify(listed) !== JSON.stringify(expected))
                  problems.push(`${label}: messages ${JSON.stringify(listed)} != ${JSON.stringify(expected)}`)
                break
              }
              case 'createRun':
                if (own) {
                  const run = await runs.create(runInput(threadId))
                  runIds.push(run.id)
                  ownerOf.set(run.id, user.id)
                  runThread.set(run.id, threadId)
                  own.runs.set(run.id, 'running')
                } else await expectRefused(label, runs.create(runInput(threadId)))
                break
              case 'getRun':
              case 'finishRun': {
                const runId = pick(runIds, o.target)
                const ownThread = mine.get(runThread.get(runId) ?? '')
                const status = ownThread?.runs.get(runId)
                const runLabel = `${user.name} ${o.kind} ${runId} (owner ${ownerOf.get(runId) === user.id ? 'me' : 'other'})`
                if (o.kind === 'finishRun') {
                  await runs.finish(runId, 'completed') // a no-op for anything not mine and running
                  if (ownThread && status) ownThread.runs.set(runId, 'completed')
                } else if (status) {
                  const got = await runs.get(runId)
                  if (got.status !== status || got.threadId !== runThread.get(runId))
                    problems.push(`${runLabel}: ${JSON.stringify(got)} != ${status}`)
                } else await expectNotFound(runLabel, runs.get(runId))
                break
              }
            }
            await yieldBy(how)
          }
        }

        // Each user's operations run in order in their own context; users run concurrently.
        await Promise.all(users.map((user, u) => asUser(user, () => play(user, scripts[u]))))

        // Final state, for every user, equals their model exactly.
        for (const user of users) {
          await asUser(user, async () => {
            const mine = model.get(user.id)!
            const listed = await threads.list()
            expect(new Map(listed.map((x) => [x.id, x.title]))).toEqual(
              new Map([...mine].map(([id, m]) => [id, m.title])),
            )
            for (const [id, m] of mine) {
              expect((await messages.listForThread(id)).map((x) => x.content)).toEqual(m.messages)
              for (const [runId, status] of m.runs) expect((await runs.get(runId)).status).toBe(status)
            }
          })
        }
        // And in the raw tables, no row of these users hangs under another user's thread.
        const ids = users.map((u) => u.id)
        const marks = ids.map(() => '?').join(',')
        const crossed = await t.database.client.execute({
          sql: `SELECT 'message' AS kind, m.id FROM messages m JOIN threads th ON th.id = m.thread_id WHERE m.user_id <> th.user_id AND m.user_id IN (${marks})
                UNION ALL SELECT 'run', r.id FROM runs r JOIN threads th ON th.id = r.thread_id WHERE r.user_id <> th.user_id AND r.user_id IN (${marks})`,
          args: [...ids, ...ids],
        })
        expect(crossed.rows).toEqual([])
        expect(problems).toEqual([])
      }),
      { numRuns: 25, seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31) },
    )
  }, 60_000)
})
