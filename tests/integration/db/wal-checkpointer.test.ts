import { describe, expect, test } from 'bun:test'
import { statSync } from 'node:fs'
import { sql } from 'drizzle-orm'
import type { Database, OpenOptions } from '../../../src/db/client'
import { PAGE_SIZE } from '../../../src/db/page-size'
import { useDatabases } from '../../support/db'
import { eventually } from '../../support/eventually'

const databases = useDatabases()
async function open(options: OpenOptions) {
  const url = databases.fileUrl('w.db')
  const database = await databases.open(url, options)
  await database.write((db) => db.run(sql`CREATE TABLE t (v TEXT)`))
  return { database, file: url.slice('file:'.length) }
}
const autoCheckpoint = async (database: Database) =>
  Number(Object.values((await database.client.execute('PRAGMA wal_autocheckpoint')).rows[0])[0])
/** About 1 MiB in 32 commits: a log of that size, which the server's connection never copies back. */
const writeAMegabyte = async (database: Database) => {
  for (let i = 0; i < 32; i++) await database.write((db) => db.run(sql`INSERT INTO t VALUES (hex(randomblob(16384)))`))
}

/** The WAL checkpointer (src/db/wal-checkpointer.ts): the log is copied back by a worker thread. */
describe('WAL checkpoints off the server thread', () => {
  test('once the log is large a worker copies it into the file; the server connection only keeps a backstop', async () => {
    const { database, file } = await open({
      walCheckpoint: { startAtBytes: 256 * 1024, everyMs: 20, watchEveryMs: 20 },
    })
    // 64 MiB of pages: the server's own checkpoints only past that.
    expect(await autoCheckpoint(database)).toBe((64 * 1024 * 1024) / PAGE_SIZE)
    const fileBefore = statSync(file).size
    expect(database.checkpointer?.running).toBe(false)
    await writeAMegabyte(database)
    expect(statSync(`${file}-wal`).size).toBeGreaterThan(1024 * 1024)
    await eventually(() => database.checkpointer?.running, 10_000, 'the worker to start')
    await eventually(() => database.checkpointer!.stats.framesCopied > 0, 10_000, 'a checkpoint')
    // The rows reached the database file itself, copied there by the worker's connection.
    await eventually(() => statSync(file).size >= fileBefore + 1024 * 1024, 10_000, 'the file to grow')
    expect(await autoCheckpoint(database)).toBe((64 * 1024 * 1024) / PAGE_SIZE)
    const [{ n }] = await database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM t`)
    expect(Number(n)).toBe(32)
  })

  test('a quiet database starts no worker', async () => {
    const { database } = await open({ walCheckpoint: { startAtBytes: 64 * 1024 * 1024, watchEveryMs: 10 } })
    await writeAMegabyte(database)
    await Bun.sleep(50) // several looks at the log's size
    expect(database.checkpointer?.running).toBe(false)
    expect(database.checkpointer?.stats.checkpoints).toBe(0)
  })

  test('writes without a pause keep the log within the backstop even before any worker runs', async () => {
    const { database, file } = await open({ walCheckpoint: { startAtBytes: 1024 ** 3, backstopBytes: 256 * 1024 } })
    expect(await autoCheckpoint(database)).toBe((256 * 1024) / PAGE_SIZE)
    // The log file keeps the size it once had (the migrations' transaction made it ~1.5 MB).
    const logBefore = statSync(`${file}-wal`).size
    await writeAMegabyte(database)
    await writeAMegabyte(database)
    // A checkpoint at 256 KiB of pages, then the log starts over: it never holds the two megabytes.
    expect(statSync(`${file}-wal`).size).toBeLessThanOrEqual(Math.max(logBefore, 512 * 1024))
    expect(statSync(file).size).toBeGreaterThan(2 * 1024 * 1024)
    expect(database.checkpointer?.running).toBe(false)
  })

  test("if the worker cannot run, the server's connection checkpoints again, as SQLite does by default", async () => {
    const { database } = await open({
      walCheckpoint: {
        startAtBytes: 1,
        watchEveryMs: 10,
        workerUrl: new URL('./no-such-checkpoint-worker.ts', import.meta.url),
      },
    })
    await database.write((db) => db.run(sql`INSERT INTO t VALUES ('a')`))
    await eventually(async () => (await autoCheckpoint(database)) === 1000, 10_000, 'the default to come back')
    expect(database.checkpointer?.running).toBe(false)
  })

  test('a database opened with walCheckpoint false keeps SQLite checkpoints on its own connection', async () => {
    const { database } = await open({ walCheckpoint: false })
    expect(database.checkpointer).toBeUndefined()
    expect(await autoCheckpoint(database)).toBe(1000)
  })
})
