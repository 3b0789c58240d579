import { describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase } from '../../../src/db/client'

/**
 * The prepared-statement cache (src/db/statement-cache.ts) shares one statement among every
 * execution of the same SQL text: results must stay exact through reuse, failures, schema
 * changes and garbage collection, and a cached statement must not pin the WAL.
 */
describe('prepared-statement cache', () => {
  test('repeated statements give exact results, also after failures and collections', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stmt-cache-'))
    const database = await openDatabase(`file:${join(dir, 'db.sqlite')}`)
    const c = database.client
    try {
      await c.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)')
      let wrong = 0
      for (let i = 1; i <= 2000; i++) {
        await c.execute({ sql: 'INSERT INTO t (v) VALUES (?)', args: [`v${i}`] })
        const count = await c.execute({ sql: 'SELECT count(*) AS n, max(id) AS top FROM t WHERE id <= ?', args: [i] })
        if (Number(count.rows[0].n) !== i || Number(count.rows[0].top) !== i) wrong++
        const tail = await c.execute({
          sql: 'SELECT id, v FROM t WHERE id > ? ORDER BY id',
          args: [Math.max(0, i - 20)],
        })
        if (tail.rows.length !== Math.min(i, 20) || tail.rows.at(-1)?.v !== `v${i}`) wrong++
        // A failing execution of a cached statement leaves it usable.
        await expect(
          c.execute({ sql: 'INSERT INTO t (id, v) VALUES (?, ?)', args: [1, 'duplicate'] }),
        ).rejects.toThrow()
        if (i % 500 === 0) Bun.gc(true)
      }
      expect(wrong).toBe(0)

      // A schema change: the same text now reads the new shape.
      const before = await c.execute('SELECT * FROM t WHERE id = 1')
      expect(before.columns).toEqual(['id', 'v'])
      await c.execute("ALTER TABLE t ADD COLUMN w TEXT DEFAULT 'new'")
      const after = await c.execute('SELECT * FROM t WHERE id = 1')
      expect(after.columns).toEqual(['id', 'v', 'w'])
      expect(after.rows[0].w).toBe('new')

      // No cached statement holds a read snapshot: the WAL can be emptied completely.
      const checkpoint = await c.execute('PRAGMA wal_checkpoint(TRUNCATE)')
      expect(Number(checkpoint.rows[0].busy)).toBe(0)
    } finally {
      database.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
