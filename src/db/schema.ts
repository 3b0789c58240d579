import { sql } from 'drizzle-orm'
import { sqliteTable, text, integer, real, index, uniqueIndex, primaryKey, foreignKey, customType } from 'drizzle-orm/sqlite-core'

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
    /** The answer's checked citations (JSON list of `Citation`), when it cites documents. */
    citations: text('citations', { mode: 'json' }).$type<Citation[]>(),
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

/** One checked citation of an answer (PROTOCOL.md §8). */
export interface Citation {
  n: number
  documentId: string
  documentName: string
  chunkId: string
  quote: string
}

export const EMBEDDING_DIMENSIONS = 768

/** libsql's vector column: 768 float32 values, written with `vector32()` or as raw bytes. */
const f32Vector = customType<{ data: Float32Array; driverData: Uint8Array | ArrayBuffer }>({
  dataType: () => `F32_BLOB(${EMBEDDING_DIMENSIONS})`,
  toDriver: (value) => new Uint8Array(value.buffer, value.byteOffset, value.byteLength),
  fromDriver: (value) => new Float32Array(value instanceof ArrayBuffer ? value : value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength)),
})

export type DocumentStatus = 'processing' | 'ready' | 'failed'

export const documents = sqliteTable(
  'documents',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    mime: text('mime').notNull(),
    bytes: integer('bytes').notNull(),
    status: text('status', { enum: ['processing', 'ready', 'failed'] }).notNull(),
    /** 0 → 1 while ingesting. */
    progress: real('progress').notNull().default(0),
    chunks: integer('chunks').notNull().default(0),
    pages: integer('pages').notNull().default(0),
    error: text('error'),
    /** The extracted text (the account export carries it). */
    text: text('text'),
    createdAt: integer('created_at').notNull().default(now),
    updatedAt: integer('updated_at').notNull().default(now),
  },
  (t) => [uniqueIndex('documents_id_user').on(t.id, t.userId), index('documents_user_created').on(t.userId, t.createdAt, t.id)],
)

export const documentChunks = sqliteTable(
  'document_chunks',
  {
    id: text('id').primaryKey(),
    userId: text('user_id').notNull(),
    documentId: text('document_id').notNull(),
    idx: integer('idx').notNull(),
    text: text('text').notNull(),
    embedding: f32Vector('embedding'),
  },
  (t) => [
    foreignKey({ columns: [t.documentId, t.userId], foreignColumns: [documents.id, documents.userId] }).onDelete('cascade'),
    index('document_chunks_user').on(t.userId, t.documentId, t.idx),
    index('document_chunks_document').on(t.documentId, t.userId),
  ],
)
