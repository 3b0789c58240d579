/**
 * Migration 0010_share_audit_targets on a database written by the earlier version, whose share
 * audit events named the share id (the link itself): they name the shared thread afterwards, an
 * event of a share that is gone keeps no target, and no other event changes.
 */
import { expect, test } from 'bun:test'
import { migratedFrom } from '../../support/old-database'

test('an old database migrates: share events name the thread, never the share id', async () => {
  await migratedFrom(
    '0009_messages_fts_owner',
    `
      INSERT INTO users (id, email, name, created_at) VALUES ('user-a', 'a@example.test', 'A', 1);
      INSERT INTO threads (id, user_id, title, created_at, updated_at) VALUES ('thread-a', 'user-a', 't', 1, 1);
      INSERT INTO shares (id, user_id, thread_id, title, messages, created_at)
        VALUES ('live-share-link-0123456789', 'user-a', 'thread-a', 't', '[]', 1);
      INSERT INTO audit_events (id, at, actor_id, action, target_id) VALUES
        ('e1', 1, 'user-a', 'share_created', 'live-share-link-0123456789'),
        ('e2', 2, 'user-a', 'share_created', 'revoked-share-link-987654'),
        ('e3', 3, 'user-a', 'share_revoked', 'revoked-share-link-987654'),
        ('e4', 4, 'user-a', 'api_key_created', 'key-1'),
        ('e5', 5, 'user-a', 'data_exported', 'user-a');`,
    async (database) => {
      const rows = await database.client.execute('SELECT id, action, target_id FROM audit_events ORDER BY id')
      expect(rows.rows.map((r) => [r.id, r.action, r.target_id])).toEqual([
        ['e1', 'share_created', 'thread-a'],
        ['e2', 'share_created', null],
        ['e3', 'share_revoked', null],
        ['e4', 'api_key_created', 'key-1'],
        ['e5', 'data_exported', 'user-a'],
      ])
    },
  )
})
