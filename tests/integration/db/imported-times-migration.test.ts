/**
 * Migration 0011_clamp_imported_times on a database an earlier import filled with times outside
 * the years 0000–9999 (which made every read of them fail): they are moved to the nearest time
 * that can be written as a date, the others stay as they were, and the threads read again.
 */
import { expect, test } from 'bun:test'
import { threadsRepository } from '../../../src/db/repositories/threads'
import { messagesRepository } from '../../../src/db/repositories/messages'
import { asUser } from '../../support/db'
import { migratedFrom } from '../../support/old-database'

const MIN = Date.parse('0000-01-01T00:00:00.000Z')
const MAX = Date.parse('9999-12-31T23:59:59.999Z')

test('an old database migrates: out-of-range times are clamped, the rest untouched, reads work', async () => {
  await migratedFrom(
    '0010_share_audit_targets',
    `
      INSERT INTO users (id, email, name, created_at) VALUES ('user-a', 'a@example.test', 'A', 1);
      INSERT INTO threads (id, user_id, title, created_at, updated_at) VALUES
        ('t-far', 'user-a', 'far', 1e300, 1e300),
        ('t-early', 'user-a', 'early', -1e17, 5),
        ('t-fine', 'user-a', 'fine', 1000, 2000);
      INSERT INTO messages (id, user_id, thread_id, role, content, created_at) VALUES
        ('m-far', 'user-a', 't-far', 'user', 'from the far future', 1e300),
        ('m-fine', 'user-a', 't-fine', 'user', 'an ordinary time', 3000);`,
    async (database) => {
      const times = await database.client.execute('SELECT id, created_at, updated_at FROM threads ORDER BY id')
      expect(times.rows.map((r) => [r.id, Number(r.created_at), Number(r.updated_at)])).toEqual([
        ['t-early', MIN, 5],
        ['t-far', MAX, MAX],
        ['t-fine', 1000, 2000],
      ])
      const messageTimes = await database.client.execute('SELECT id, created_at FROM messages ORDER BY id')
      expect(messageTimes.rows.map((r) => [r.id, Number(r.created_at)])).toEqual([
        ['m-far', MAX],
        ['m-fine', 3000],
      ])
      await asUser('user-a', async () => {
        const threads = await threadsRepository(database).list()
        expect(threads.map((t) => t.createdAt).sort()).toEqual([
          '0000-01-01T00:00:00.000Z',
          '1970-01-01T00:00:01.000Z',
          '9999-12-31T23:59:59.999Z',
        ])
        const [message] = await messagesRepository(database).listForThread('t-far')
        expect(message.createdAt).toBe('9999-12-31T23:59:59.999Z')
      })
    },
  )
})
