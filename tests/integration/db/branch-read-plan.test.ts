import { describe, expect, test } from 'bun:test'
import { useTestDatabase } from '../../support/fixtures'
import { messageRowsById, messagesRepository } from '../../../src/db/repositories/messages'
import { asUser } from '../../support/db'

const t = useTestDatabase()

/**
 * A thread's messages are fetched by primary key, whatever the planner's statistics say about
 * the user: a heavy user's read must not walk all their messages (docs/performance.md, "A long
 * history").
 */
describe('branch reads on a heavy user', () => {
  test('the row fetch uses the primary key after ANALYZE, and keeps to the user', async () => {
    const c = t.database.client
    // Statistics like a team's: one heavy user among many light ones (the average per user is
    // small, which is what made the user_id index look cheap).
    await c.execute(
      "INSERT INTO users (id, email, name, role) VALUES ('heavy', 'heavy@example.test', 'heavy', 'user'), ('other', 'other@example.test', 'other', 'user')",
    )
    await c.execute(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 1999)
      INSERT INTO users (id, email, name, role) SELECT printf('l%04d', i), printf('l%04d@example.test', i), 'light', 'user' FROM n`)
    await c.execute(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 1999)
      INSERT INTO threads (id, user_id, title, created_at, updated_at) SELECT printf('lt%04d', i), printf('l%04d', i), 't', i, i FROM n`)
    await c.execute(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 3999)
      INSERT INTO messages (id, user_id, thread_id, role, content, created_at) SELECT printf('lm%05d', i), printf('l%04d', i / 2), printf('lt%04d', i / 2), 'user', 'x', i FROM n`)
    await c.execute(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 49)
      INSERT INTO threads (id, user_id, title, created_at, updated_at) SELECT printf('t%02d', i), 'heavy', 't', i, i FROM n`)
    await c.execute(
      "INSERT INTO threads (id, user_id, title, created_at, updated_at) VALUES ('o1', 'other', 'o', 0, 0)",
    )
    await c.execute(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 4999)
      INSERT INTO messages (id, user_id, thread_id, role, content, created_at, parent_id)
      SELECT printf('m%05d', i), 'heavy', printf('t%02d', i / 100), 'user', 'x', i, CASE WHEN i % 100 = 0 THEN NULL ELSE printf('m%05d', i - 1) END FROM n`)
    await c.execute(
      "INSERT INTO messages (id, user_id, thread_id, role, content, created_at) VALUES ('foreign', 'other', 'o1', 'user', 'not yours', 0)",
    )
    await c.execute('ANALYZE')

    const ids = [...Array.from({ length: 100 }, (_, i) => `m${String(100 + i).padStart(5, '0')}`), 'foreign']
    const { sql, params } = messageRowsById(t.database.db, 'heavy', ids).toSQL()
    const plan = await c.execute({ sql: `EXPLAIN QUERY PLAN ${sql}`, args: params as (string | number)[] })
    const detail = plan.rows.map((r) => String(r.detail)).join(' | ')
    expect(detail).toContain('(id=?)')
    expect(detail).not.toContain('user_id=?')

    const rows = await messageRowsById(t.database.db, 'heavy', ids)
    expect(rows.map((r) => r.id).sort()).toEqual(ids.slice(0, 100))
  })

  test('conversation memory walks only the newest messages of a long branch, oldest first', async () => {
    // Thread t01 above: m00100 (root) … m00199 (leaf), each answering the one before.
    const messages = messagesRepository(t.database)
    const newest = await asUser('heavy', () => messages.recentOnBranch('t01', 'm00199', 30))
    expect(newest.map((m) => m.id)).toEqual(
      Array.from({ length: 30 }, (_, i) => `m${String(170 + i).padStart(5, '0')}`),
    )
    const whole = await asUser('heavy', () => messages.branch('t01', 'm00199'))
    expect(whole).toHaveLength(100)
    expect(await asUser('heavy', () => messages.recentOnBranch('t01', 'm00199', 500))).toEqual(whole)
    expect(await asUser('heavy', () => messages.recentOnBranch('t01', 'm00199', 0))).toEqual([])
    // Another user's leaf is not walked at all.
    expect(await asUser('other', () => messages.recentOnBranch('t01', 'm00199', 30))).toEqual([])
  })
})
