import { describe, expect, test } from 'bun:test'
import { asUser, createDbUsers } from '../../support/db'
import { useTestDatabase } from '../../support/fixtures'

const t = useTestDatabase()

/** The run journal's group commit: batches of any size land whole, in order, once. */
describe('journal store', () => {
  test('batches of 1 to 150 events are stored whole and in seq order; a repeated batch changes nothing', async () => {
    const { threads, runs, journal } = t.repos
    const [user] = await createDbUsers(t.database, 1, 'journal')
    const run = await asUser(user, async () => {
      const thread = await threads.create('journal')
      return runs.create({ id: crypto.randomUUID(), threadId: thread.id, agent: 'triage', model: 'm', input: 'hi' })
    })
    let seq = 0
    const sizes = [1, 3, 4, 5, 16, 21, 64, 85, 150]
    for (const size of sizes) {
      const batch = Array.from({ length: size }, () => {
        seq++
        return {
          runId: run.id,
          seq,
          userId: user.id,
          type: 'message_delta',
          data: JSON.stringify({ seq, delta: `d${seq}` }),
        }
      })
      await journal.appendBatch(batch)
      await journal.appendBatch(batch.slice(0, 2)) // already stored: ignored
    }
    const stored = await asUser(user, () => runs.eventsAfter(run.id, 0))
    const total = sizes.reduce((a, b) => a + b, 0)
    expect(stored.length).toBe(total)
    expect(stored.map((d) => JSON.parse(d).seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1))
    expect(await journal.lastSeq(run.id)).toBe(total)
  })
  test('an agent_completed row carrying closesRun closes its run in the same write, and only that run', async () => {
    const { threads, runs, journal } = t.repos
    const [owner, other] = await createDbUsers(t.database, 2, 'closes')
    const start = (user: typeof owner) =>
      asUser(user, async () => {
        const thread = await threads.create('closes')
        return runs.create({ id: crypto.randomUUID(), threadId: thread.id, agent: 'triage', model: 'm', input: 'hi' })
      })
    const run = await start(owner)
    const foreign = await start(other)
    const completed = (runId: string, userId: string, seq: number) => ({
      runId,
      seq,
      userId,
      type: 'agent_completed',
      data: JSON.stringify({ seq }),
      closesRun: { status: 'failed' as const, error: { code: 'llm_error', message: 'down' }, agent: 'planner' },
    })
    // The run's row closes with its event; another run (of another user) stays as it is.
    await journal.appendBatch([completed(run.id, owner.id, 1)])
    const closed = await asUser(owner, () => runs.get(run.id))
    expect(closed.status).toBe('failed')
    expect(closed.agent).toBe('planner')
    expect(closed.finishedAt).toBeString()
    expect((await asUser(other, () => runs.get(foreign.id))).status).toBe('running')
    // A finished run is not reopened or changed by a repeat.
    await journal.appendBatch([{ ...completed(run.id, owner.id, 2), closesRun: { status: 'completed' as const } }])
    expect((await asUser(owner, () => runs.get(run.id))).status).toBe('failed')
  })
})
