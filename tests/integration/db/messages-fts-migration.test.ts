/**
 * Migration 0009_messages_fts_owner on a database written by the earlier schema: the message
 * index is rebuilt with each message's owner as tokens, every existing message stays findable
 * by its own user only, and the triggers keep the new index in step (insert, edit, delete).
 */
import { test, expect } from 'bun:test'
import { ownerMatch } from '../../../src/db/fts'
import { migratedFrom } from '../../support/old-database'

test('an old database migrates: existing messages are indexed with their owner, and the triggers follow', async () => {
  await migratedFrom(
    '0008_document_vector_versions',
    `
      INSERT INTO users (id, email, name, created_at) VALUES ('user-a', 'a@example.test', 'A', 1), ('user-b', 'b@example.test', 'B', 2);
      INSERT INTO threads (id, user_id, title, created_at, updated_at) VALUES ('ta', 'user-a', 't', 1, 1), ('tb', 'user-b', 't', 1, 1);
      INSERT INTO messages (id, user_id, thread_id, role, content, created_at) VALUES
        ('ma', 'user-a', 'ta', 'user', 'walrus migration notes', 1),
        ('mb', 'user-b', 'tb', 'user', 'a walrus of my own', 2);`,
    async (database) => {
      const c = database.client
      const found = async (userId: string, query: string) =>
        (
          await c.execute({
            sql: 'SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rowid',
            args: [ownerMatch(userId, 'content', query)],
          })
        ).rows.length
      // Rebuilt from the old rows: each user's index yields their own message only.
      expect(await found('user-a', '"walrus"')).toBe(1)
      expect(await found('user-b', '"walrus"')).toBe(1)
      expect(await found('user-a', '"own"')).toBe(0)
      // The word is looked for in the text only: a user's id is not their messages' text.
      expect(await found('user-a', '"user"')).toBe(0)
      // Insert, edit and delete are followed.
      await c.execute(
        "INSERT INTO messages (id, user_id, thread_id, role, content, created_at) VALUES ('ma2', 'user-a', 'ta', 'assistant', 'a second walrus', 3)",
      )
      expect(await found('user-a', '"walrus"')).toBe(2)
      await c.execute("UPDATE messages SET content = 'a narwhal now' WHERE id = 'ma2'")
      expect(await found('user-a', '"walrus"')).toBe(1)
      expect(await found('user-a', '"narwhal"')).toBe(1)
      await c.execute("DELETE FROM messages WHERE id = 'ma2'")
      expect(await found('user-a', '"narwhal"')).toBe(0)
      expect(await found('user-b', '"walrus"')).toBe(1)
      // The index is consistent with its content table.
      await c.execute("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")
    },
  )
})
