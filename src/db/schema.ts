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
})

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
  (t) => [uniqueIndex('refresh_token_families_id_user').on(t.id, t.userId)],
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
    pinned: integer('pinned', { mode: 'boolean' }).notNull().default(false),
    archived: integer('archived', { mode: 'boolean' }).notNull().default(false),
    /** The branch shown by default: the message added last (or an import's current branch). */
    leafId: text('leaf_id'),
  },
  (t) => [
    uniqueIndex('threads_id_user').on(t.id, t.userId),
    index('threads_user_updated').on(t.userId, t.updatedAt),
    index('threads_user_list').on(t.userId, t.archived, t.pinned, t.updatedAt, t.id),
  ],
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
    /** The message this one follows (null for a root): messages form a tree of branches. */
    parentId: text('parent_id'),
    /** Assistant messages: how their run ended (`completed`, `failed`, `cancelled`). */
    status: text('status', { enum: ['completed', 'failed', 'cancelled'] }),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
  },
  (t) => [
    foreignKey({ columns: [t.threadId, t.userId], foreignColumns: [threads.id, threads.userId] }).onDelete('cascade'),
    index('messages_thread').on(t.userId, t.threadId, t.createdAt),
    index('messages_parent').on(t.userId, t.threadId, t.parentId, t.createdAt),
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
  (t) => [uniqueIndex('notes_id_user').on(t.id, t.userId), index('notes_user').on(t.userId, t.createdAt), index('notes_user_page').on(t.userId, t.createdAt, t.id)],
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
  (t) => [
    uniqueIndex('datasets_id_user').on(t.id, t.userId),
    uniqueIndex('datasets_user_name').on(t.userId, t.name),
    index('datasets_user_page').on(t.userId, t.createdAt, t.id),
  ],
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

/** Read-only snapshots of a thread's branch, readable by anyone holding the id. */
export const shares = sqliteTable(
  'shares',
  {
    /** At least 128 random bits (base64url); the id is the capability. */
    id: text('id').primaryKey(),
    userId: text('user_id').notNull(),
    threadId: text('thread_id').notNull(),
    title: text('title').notNull(),
    /** The copied branch: JSON list of {role, content, agent?, createdAt}. */
    messages: text('messages', { mode: 'json' }).$type<{ role: string; content: string; agent?: string; createdAt: string }[]>().notNull(),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [
    foreignKey({ columns: [t.threadId, t.userId], foreignColumns: [threads.id, threads.userId] }).onDelete('cascade'),
    index('shares_user').on(t.userId, t.createdAt, t.id),
  ],
)
