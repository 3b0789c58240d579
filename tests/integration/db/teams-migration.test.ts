/**
 * Migration 0004_teams on a database written by the earlier schema: `user` accounts become
 * `member`, the admin stays admin, nothing else changes, and an insert that still says `user`
 * is stored as `member`.
 */
import { test, expect } from 'bun:test'
import { migratedFrom } from '../../support/old-database'

test('an old database migrates: user → member, admin kept, new columns defaulted', async () => {
  await migratedFrom(
    '0001_fts',
    `
      INSERT INTO users (id, email, name, role, created_at) VALUES ('a', 'a@example.test', 'A', 'admin', 1), ('b', 'b@example.test', 'B', 'user', 2);
      INSERT INTO notes (id, user_id, title, body, created_at) VALUES ('n', 'b', 't', 'kept', 3);`,
    async (database) => {
      const rows = await database.client.execute(
        'SELECT id, role, disabled, last_active_at, quota_runs_per_day FROM users ORDER BY id',
      )
      expect(rows.rows.map((r) => ({ ...r }) as Record<string, unknown>)).toEqual([
        { id: 'a', role: 'admin', disabled: 0, last_active_at: null, quota_runs_per_day: null },
        { id: 'b', role: 'member', disabled: 0, last_active_at: null, quota_runs_per_day: null },
      ])
      expect((await database.client.execute("SELECT body FROM notes WHERE id = 'n'")).rows[0].body).toBe('kept')
      // Old code relying on the column default, or naming the old role, still lands on member.
      await database.client.execute("INSERT INTO users (id, email, name) VALUES ('c', 'c@example.test', 'C')")
      await database.client.execute(
        "INSERT INTO users (id, email, name, role) VALUES ('d', 'd@example.test', 'D', 'user')",
      )
      const later = await database.client.execute("SELECT id, role FROM users WHERE id IN ('c', 'd') ORDER BY id")
      expect(later.rows.map((r) => r.role)).toEqual(['member', 'member'])
    },
  )
})
