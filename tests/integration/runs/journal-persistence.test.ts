/**
 * The journal's persistence (EventPersister) on a real libsql file: one batch holds the events
 * of many users' runs, so one run's failing rows must cost the others nothing. Here Alice's run
 * is deleted with its thread while it still has events to store (its rows now fail the foreign
 * key): Bob's events in the same batch are all stored, Alice's are dropped once and for all —
 * not retried, not counted as a persistence failure — and delivery goes on for both.
 */
import { describe, expect, test } from 'bun:test'
import { asUser, createDbUsers } from '../../support/db'
import { useTestDatabase } from '../../support/fixtures'
import { EventPersister } from '../../../src/runs/journal'
import type { StoredEvent } from '../../../src/db/repositories/runs'

const t = useTestDatabase()

const delta = (runId: string, userId: string, seq: number, type = 'message_delta'): StoredEvent => ({
  runId,
  seq,
  userId,
  type,
  data: JSON.stringify({ type, runId, seq, delta: `${runId.slice(0, 4)}-${seq}` }),
})

describe('event persistence when a run is deleted while it runs', () => {
  test("a batch mixing a deleted run's events with another user's stores all of the other's, and drops the deleted run's for good", async () => {
    const { threads, runs } = t.repos
    const [alice, bob] = await createDbUsers(t.database, 2, 'mixed')
    const start = (user: typeof alice, title: string) =>
      asUser(user, async () => {
        const thread = await threads.create(title)
        const run = await runs.create({
          id: crypto.randomUUID(),
          threadId: thread.id,
          agent: 'triage',
          model: 'm',
          input: title,
        })
        return { threadId: thread.id, runId: run.id }
      })
    const a = await start(alice, 'alice')
    const b = await start(bob, 'bob')
    // Alice deletes her thread: her run and its events go with it, while her run is still going.
    await asUser(alice, () => threads.remove(a.threadId))

    const gone: string[] = []
    const persister = new EventPersister(t.repos.journal, { onRunGone: (runId) => gone.push(runId) })
    const delivered: string[] = []
    const add = (row: StoredEvent) => persister.add(row, () => delivered.push(`${row.runId}#${row.seq}`))

    // One tick: Bob's events and Alice's orphaned ones interleave in one batch.
    for (let seq = 1; seq <= 20; seq++) {
      add(delta(b.runId, bob.id, seq))
      add(delta(a.runId, alice.id, seq))
    }
    await persister.flush()

    const stored = await asUser(bob, () => runs.eventsAfter(b.runId, 0))
    expect(stored.map((d) => JSON.parse(d).seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
    expect(stored.map((d) => JSON.parse(d).delta)).toEqual(
      Array.from({ length: 20 }, (_, i) => `${b.runId.slice(0, 4)}-${i + 1}`),
    )
    expect(persister.failures).toBe(0) // a deleted run is not a failure of persistence
    expect(persister.goneRuns).toBe(1)
    expect(gone).toEqual([a.runId]) // told once, so its run can be stopped
    // Delivery went on for every event, each run's in order.
    expect(delivered.filter((d) => d.startsWith(b.runId))).toEqual(
      Array.from({ length: 20 }, (_, i) => `${b.runId}#${i + 1}`),
    )
    expect(delivered.filter((d) => d.startsWith(a.runId))).toHaveLength(20)

    // Later batches: Alice's run's events are skipped without a write (no retry of a run that is
    // gone), Bob's are stored as ever; nothing more is said about Alice's run.
    let writes = 0
    t.database.writes.onWrite = () => writes++
    for (let seq = 21; seq <= 25; seq++) add(delta(a.runId, alice.id, seq))
    await persister.flush()
    expect(writes).toBe(0)
    for (let seq = 26; seq <= 30; seq++) add(delta(a.runId, alice.id, seq))
    add(delta(b.runId, bob.id, 21))
    await persister.flush()
    expect(writes).toBe(1)
    t.database.writes.onWrite = undefined
    expect((await asUser(bob, () => runs.eventsAfter(b.runId, 0))).length).toBe(21)
    expect(persister.failures).toBe(0)
    expect(persister.goneRuns).toBe(1)
    expect(gone).toEqual([a.runId])
  })
})
