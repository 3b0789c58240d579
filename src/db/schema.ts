import { sql } from 'drizzle-orm'
import { sqliteTable, text, integer, index, uniqueIndex, primaryKey, foreignKey } from 'drizzle-orm/sqlite-core'

/**
 * Every user-owned table carries `user_id`, and every child table points at its parent with
 * the composite key (id, user_id), so a row can only ever hang under a parent of the same user.
 * Times are Unix milliseconds.
 */

const now = sql`(cast(unixepoch('subsec') * 1000 as integer))`

export const users = sqliteTable('users', {
  id: text('id').primaryKey(),
  email: text('email').notNull().unique(),
  name: text('name').notNull(),
  role: text('role', { enum: ['admin', 'user'] }).notNull().default('user'),
  passwordHash: text('password_hash'),
  createdAt: integer('created_at').notNull().default(now),
  /** A disabled account cannot sign in, and its sessions end at once (src/auth/sessions). */
  disabled: integer('disabled', { mode: 'boolean' }).notNull().default(false),
  /** Access tokens issued before this time (ms) are void: "sign out everywhere". */
  sessionsValidAfter: integer('sessions_valid_after'),
  /** When disabled, sessions_valid_after or role last changed (ms): processes poll for it. */
  sessionsChangedAt: integer('sessions_changed_at'),
}, (t) => [index('users_sessions_changed').on(t.sessionsChangedAt)])

export const oidcIdentities = sqliteTable(
  'oidc_identities',
  {
    issuer: text('issuer').notNull(),
    subject: text('subject').notNull(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.issuer, t.subject] })],
)

export const refreshTokenFamilies = sqliteTable(
  'refresh_token_families',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: integer('created_at').notNull().default(now),
    revokedAt: integer('revoked_at'),
    revokedReason: text('revoked_reason'),
  },
  (t) => [uniqueIndex('refresh_token_families_id_user').on(t.id, t.userId), index('refresh_token_families_revoked').on(t.revokedAt)],
)

export const refreshTokens = sqliteTable(
  'refresh_tokens',
  {
    /** SHA-256 of the token; the token itself is never stored. */
    tokenHash: text('token_hash').primaryKey(),
    familyId: text('family_id').notNull(),
    userId: text('user_id').notNull(),
    expiresAt: integer('expires_at').notNull(),
    usedAt: integer('used_at'),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [
    foreignKey({ columns: [t.familyId, t.userId], foreignColumns: [refreshTokenFamilies.id, refreshTokenFamilies.userId] }).onDelete(
      'cascade',
    ),
    index('refresh_tokens_family').on(t.familyId),
  ],
)

export const threads = sqliteTable(
  'threads',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    title: text('title').notNull(),
    createdAt: integer('created_at').notNull().default(now),
    updatedAt: integer('updated_at').notNull().default(now),
  },
  (t) => [uniqueIndex('threads_id_user').on(t.id, t.userId), index('threads_user_updated').on(t.userId, t.updatedAt)],
)

export const messages = sqliteTable(
  'messages',
  {
    id: text('id').primaryKey(),
    userId: text('user_id').notNull(),
    threadId: text('thread_id').notNull(),
    role: text('role', { enum: ['user', 'assistant', 'system'] }).notNull(),
    content: text('content').notNull(),
    agent: text('agent'),
    runId: text('run_id'),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [
    foreignKey({ columns: [t.threadId, t.userId], foreignColumns: [threads.id, threads.userId] }).onDelete('cascade'),
    index('messages_thread').on(t.userId, t.threadId, t.createdAt),
  ],
)

export const runs = sqliteTable(
  'runs',
  {
    id: text('id').primaryKey(),
    userId: text('user_id').notNull(),
    threadId: text('thread_id').notNull(),
    status: text('status', { enum: ['running', 'completed', 'failed', 'cancelled'] }).notNull(),
    agent: text('agent').notNull(),
    model: text('model').notNull(),
    input: text('input').notNull(),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    /** Which process runs it (cluster mode); lets a survivor close the runs of a dead one. */
    nodeId: text('node_id'),
    createdAt: integer('created_at').notNull().default(now),
    finishedAt: integer('finished_at'),
  },
  (t) => [
    foreignKey({ columns: [t.threadId, t.userId], foreignColumns: [threads.id, threads.userId] }).onDelete('cascade'),
    uniqueIndex('runs_id_user').on(t.id, t.userId),
    index('runs_status').on(t.status),
  ],
)

export const runEvents = sqliteTable(
  'run_events',
  {
    runId: text('run_id').notNull(),
    seq: integer('seq').notNull(),
    userId: text('user_id').notNull(),
    type: text('type').notNull(),
    /** The whole event as sent on the wire (JSON). */
    data: text('data').notNull(),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.seq] }),
    foreignKey({ columns: [t.runId, t.userId], foreignColumns: [runs.id, runs.userId] }).onDelete('cascade'),
  ],
)

export const notes = sqliteTable(
  'notes',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    title: text('title').notNull(),
    body: text('body').notNull(),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [uniqueIndex('notes_id_user').on(t.id, t.userId), index('notes_user').on(t.userId, t.createdAt)],
)

export interface DatasetColumn {
  name: string
  type: 'number' | 'text'
}

export const datasets = sqliteTable(
  'datasets',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    columns: text('columns', { mode: 'json' }).$type<DatasetColumn[]>().notNull(),
    rowCount: integer('row_count').notNull(),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [uniqueIndex('datasets_id_user').on(t.id, t.userId), uniqueIndex('datasets_user_name').on(t.userId, t.name)],
)

export const datasetRows = sqliteTable(
  'dataset_rows',
  {
    datasetId: text('dataset_id').notNull(),
    idx: integer('idx').notNull(),
    userId: text('user_id').notNull(),
    /** The row as a JSON object keyed by column name, numbers as numbers. */
    data: text('data').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.datasetId, t.idx] }),
    foreignKey({ columns: [t.datasetId, t.userId], foreignColumns: [datasets.id, datasets.userId] }).onDelete('cascade'),
  ],
)
