import { describe, expect, test } from 'bun:test'
import { sql } from 'drizzle-orm'
import { useDatabases } from '../../support/db'
import { sqlIn } from '../../../src/db/group-commit'
import { createUserContext, maybeCurrentContext, runAsUser } from '../../../src/context/user-context'

const databases = useDatabases()

/**
 * A database file with two connections, a table `t`, and the writer held busy until `release()`:
 * grouped writes issued meanwhile queue up together. Both are closed after the test.
 */
async function heldWriter() {
  const url = databases.fileUrl('g.db')
  const database = await databases.open(url)
  const other = await databases.open(url)
  await database.write((db) => db.run(sql`CREATE TABLE t (k TEXT PRIMARY KEY)`))
  const { promise: gate, resolve: release } = Promise.withResolvers<void>()
  const busy = database.write(() => gate)
  const countFromOther = async () => Number((await other.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM t`))[0].n)
  return {
    database,
    other,
    countFromOther,
    release: async () => {
      release()
      await busy
    },
  }
}

/** Group commit (src/db/group-commit.ts): writes queued together share one transaction. */
describe('group commit', () => {
  test('writes queued behind a busy writer share one transaction; a failing one is rolled back alone', async () => {
    const database = await databases.open()
    await database.write((db) => db.run(sql`CREATE TABLE t (k TEXT PRIMARY KEY)`))
    const { promise: gate, resolve: open } = Promise.withResolvers<void>()
    const busy = database.write(() => gate)
    const insert = (k: string) =>
      database.writeInGroup(async (tx) => {
        await tx.run(sql`INSERT INTO t VALUES (${k})`)
        return k
      })
    const failing = database.writeInGroup(async (tx) => {
      await tx.run(sql`INSERT INTO t VALUES ('bad')`)
      await tx.run(sql`INSERT INTO t VALUES ('bad')`) // primary key violation: this write only
    })
    const ok = ['a', 'b', 'c'].map(insert)
    open()
    await busy
    await expect(failing).rejects.toThrow()
    expect(await Promise.all(ok)).toEqual(['a', 'b', 'c'])
    const rows = await database.db.all<{ k: string }>(sql`SELECT k FROM t ORDER BY k`)
    expect(rows.map((r) => r.k)).toEqual(['a', 'b', 'c'])
  })

  test('fixed SQL through sqlIn(tx) joins the group and its savepoint: committed together, rolled back alone', async () => {
    const held = await heldWriter()
    const { database, other } = held
    const seenByOtherConnection: number[] = []
    const insert = (k: string) =>
      database.writeInGroup(async (tx) => {
        await sqlIn(tx).execute({ sql: 'INSERT INTO t VALUES (?)', args: [k] })
        seenByOtherConnection.push(await held.countFromOther())
      })
    const failing = database.writeInGroup(async (tx) => {
      await sqlIn(tx).execute({ sql: 'INSERT INTO t VALUES (?)', args: ['bad'] })
      await tx.run(sql`INSERT INTO t VALUES ('bad')`) // primary key violation: this write only
    })
    const ok = ['a', 'b'].map(insert)
    await held.release()
    await expect(failing).rejects.toThrow()
    await Promise.all(ok)
    expect(seenByOtherConnection).toEqual([0, 0])
    const rows = await other.db.all<{ k: string }>(sql`SELECT k FROM t ORDER BY k`)
    expect(rows.map((r) => r.k)).toEqual(['a', 'b'])
    // Outside a grouped write there is no transaction to run on.
    await expect(database.write(async (db) => sqlIn(db as never))).rejects.toThrow(/not inside a grouped write/)
  })

  test('a group runs once straight through; if one write fails, the group runs again and stores each other write once', async () => {
    const held = await heldWriter()
    const { database, other } = held
    const calls = new Map<string, number>()
    const insert = (k: string, fail = false) =>
      database.writeInGroup(async (tx) => {
        calls.set(k, (calls.get(k) ?? 0) + 1)
        await sqlIn(tx).execute({ sql: 'INSERT INTO t VALUES (?)', args: [k] })
        if (fail) throw new Error(`refused ${k}`)
        return k
      })
    const clean = ['a', 'b'].map((k) => insert(k))
    await held.release()
    expect(await Promise.all(clean)).toEqual(['a', 'b'])
    expect(Object.fromEntries(calls)).toEqual({ a: 1, b: 1 })

    calls.clear()
    // Issued in one turn of the event loop: one group.
    const mixed = [insert('c'), insert('bad', true), insert('d')]
    expect(await mixed[0]).toBe('c')
    await expect(mixed[1]).rejects.toThrow('refused bad')
    expect(await mixed[2]).toBe('d')
    // The first pass stopped at the failure ('d' never ran in it); the second ran each in a savepoint.
    expect(Object.fromEntries(calls)).toEqual({ c: 2, bad: 2, d: 1 })
    const rows = await other.db.all<{ k: string }>(sql`SELECT k FROM t ORDER BY k`)
    expect(rows.map((r) => r.k)).toEqual(['a', 'b', 'c', 'd'])
  })

  test('a group resolves its callers only once it is committed, and a reader waits for it', async () => {
    const held = await heldWriter()
    const { database } = held
    const seenByOtherConnection: number[] = []
    const reads: Promise<number>[] = []
    const writes = ['a', 'b'].map((k) =>
      database.writeInGroup(async (tx) => {
        await tx.run(sql`INSERT INTO t VALUES (${k})`)
        // Another connection sees nothing of the group before its commit ('a' is not there for 'b').
        seenByOtherConnection.push(await held.countFromOther())
        // A read on the same client while the group holds its connection: waits for the commit.
        reads.push(database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM t`).then(([r]) => Number(r.n)))
      }),
    )
    await held.release()
    await Promise.all(writes)
    expect(seenByOtherConnection).toEqual([0, 0])
    expect(await held.countFromOther()).toBe(2)
    expect(await Promise.all(reads)).toEqual([2, 2])
  })

  test("each grouped write runs in its caller's user context", async () => {
    const database = await databases.open()
    const { promise: gate, resolve: open } = Promise.withResolvers<void>()
    const busy = database.write(() => gate)
    const seen: (string | undefined)[] = []
    const a = createUserContext({ userId: 'user-a', role: 'member' })
    const b = createUserContext({ userId: 'user-b', role: 'member' })
    const writes = [
      runAsUser(a, () => database.writeInGroup(async () => void seen.push(maybeCurrentContext()?.userId))),
      runAsUser(b, () => database.writeInGroup(async () => void seen.push(maybeCurrentContext()?.userId))),
      database.writeInGroup(async () => void seen.push(maybeCurrentContext()?.userId)),
    ]
    open()
    await Promise.all([busy, ...writes])
    expect(seen).toEqual(['user-a', 'user-b', undefined])
  })
})
