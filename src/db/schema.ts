import type { Citation } from '../protocol/run-events'
import { sql } from 'drizzle-orm'
import {
  sqliteTable,
  text,
  integer,
  index,
  uniqueIndex,
  primaryKey,
  foreignKey,
  real,
  customType,
  type SQLiteColumn,
} from 'drizzle-orm/sqlite-core'

/**
 * Every user-owned table carries `user_id`, and every child table points at its parent with
 * the composite key (id, user_id), so a row can only ever hang under a parent of the same user.
 * Times are Unix milliseconds.
 */

const now = sql`(cast(unixepoch('subsec') * 1000 as integer))`

/** A row's own id: text, the primary key. */
const id = () => text('id').primaryKey()

/** The account that owns a top-level row: deleting the account deletes the row. */
const ownerId = () =>
  text('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' })

/** A child row's owner: `childOf` ties it, with the parent's id, to a parent of the same user. */
const childUserId = () => text('user_id').notNull()

/** When the row was written (ms), filled in by SQLite. */
const createdAt = () => integer('created_at').notNull().default(now)
const updatedAt = () => integer('updated_at').notNull().default(now)

/**
 * The composite key (parent id, user id) → parent (id, user_id) that hangs a child row under a
 * parent of the same user; deleting the parent deletes the row.
 */
const childOf = (columns: [SQLiteColumn, SQLiteColumn], parent: { id: SQLiteColumn; userId: SQLiteColumn }) =>
  foreignKey({ columns, foreignColumns: [parent.id, parent.userId] }).onDelete('cascade')

export const users = sqliteTable(
  'users',
  {
    id: id(),
    email: text('email').notNull().unique(),
    name: text('name').notNull(),
    role: text('role', { enum: ['admin', 'member'] })
      .notNull()
      .default('member'),
    passwordHash: text('password_hash'),
    createdAt: createdAt(),
    /** A disabled account cannot sign in, and its sessions end at once (src/auth/sessions). */
    disabled: integer('disabled', { mode: 'boolean' }).notNull().default(false),
    /** Access tokens issued before this time (ms) are void: "sign out everywhere". */
    sessionsValidAfter: integer('sessions_valid_after'),
    /** When disabled, sessions_valid_after or role last changed (ms): processes poll for it. */
    sessionsChangedAt: integer('sessions_changed_at'),
    lastActiveAt: integer('last_active_at'),
    /** Per-user quota overrides; null = the server's QUOTA_* defaults. */
    quotaRunsPerDay: integer('quota_runs_per_day'),
    quotaTokensPerDay: integer('quota_tokens_per_day'),
  },
  (t) => [index('users_sessions_changed').on(t.sessionsChangedAt)],
)

export const oidcIdentities = sqliteTable(
  'oidc_identities',
  {
    issuer: text('issuer').notNull(),
    subject: text('subject').notNull(),
    userId: ownerId(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.issuer, t.subject] })],
)

export const refreshTokenFamilies = sqliteTable(
  'refresh_token_families',
  {
    id: id(),
    userId: ownerId(),
    createdAt: createdAt(),
    revokedAt: integer('revoked_at'),
    revokedReason: text('revoked_reason'),
  },
  (t) => [
    uniqueIndex('refresh_token_families_id_user').on(t.id, t.userId),
    index('refresh_token_families_revoked').on(t.revokedAt),
  ],
)

export const refreshTokens = sqliteTable(
  'refresh_tokens',
  {
    /** SHA-256 of the token; the token itself is never stored. */
    tokenHash: text('token_hash').primaryKey(),
    familyId: text('family_id').notNull(),
    userId: childUserId(),
    expiresAt: integer('expires_at').notNull(),
    usedAt: integer('used_at'),
    createdAt: createdAt(),
  },
  (t) => [childOf([t.familyId, t.userId], refreshTokenFamilies), index('refresh_tokens_family').on(t.familyId)],
)

export const threads = sqliteTable(
  'threads',
  {
    id: id(),
    userId: ownerId(),
    title: text('title').notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
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
    id: id(),
    userId: childUserId(),
    threadId: text('thread_id').notNull(),
    role: text('role', { enum: ['user', 'assistant', 'system'] }).notNull(),
    content: text('content').notNull(),
    agent: text('agent'),
    runId: text('run_id'),
    /** The answer's checked citations (JSON list of `Citation`), when it cites documents. */
    citations: text('citations', { mode: 'json' }).$type<Citation[]>(),
    createdAt: createdAt(),
    /** The message this one follows (null for a root): messages form a tree of branches. */
    parentId: text('parent_id'),
    /** Assistant messages: how their run ended (`completed`, `failed`, `cancelled`). */
    status: text('status', { enum: ['completed', 'failed', 'cancelled'] }),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
  },
  (t) => [
    childOf([t.threadId, t.userId], threads),
    index('messages_thread').on(t.userId, t.threadId, t.createdAt),
    index('messages_parent').on(t.userId, t.threadId, t.parentId, t.createdAt),
  ],
)

export const runs = sqliteTable(
  'runs',
  {
    id: id(),
    userId: childUserId(),
    threadId: text('thread_id').notNull(),
    status: text('status', { enum: ['running', 'completed', 'failed', 'cancelled'] }).notNull(),
    agent: text('agent').notNull(),
    model: text('model').notNull(),
    input: text('input').notNull(),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    /** Which process runs it (cluster mode); lets a survivor close the runs of a dead one. */
    nodeId: text('node_id'),
    /** The user message the run's answer hangs under (a resumed run answers on the same branch). */
    answerParentId: text('answer_parent_id'),
    /** Times the run was resumed after its process died (RUN_RESUME_MAX_ATTEMPTS caps it). */
    resumeAttempts: integer('resume_attempts').notNull().default(0),
    createdAt: createdAt(),
    finishedAt: integer('finished_at'),
  },
  (t) => [
    childOf([t.threadId, t.userId], threads),
    uniqueIndex('runs_id_user').on(t.id, t.userId),
    index('runs_status').on(t.status),
  ],
)

export const runEvents = sqliteTable(
  'run_events',
  {
    runId: text('run_id').notNull(),
    seq: integer('seq').notNull(),
    userId: childUserId(),
    type: text('type').notNull(),
    /** The whole event as sent on the wire (JSON). */
    data: text('data').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.seq] }), childOf([t.runId, t.userId], runs)],
)

export const notes = sqliteTable(
  'notes',
  {
    id: id(),
    userId: ownerId(),
    title: text('title').notNull(),
    body: text('body').notNull(),
    /** The tool call that saved it (save_note): a call repeated after a crash finds this note instead of saving another. */
    toolCallId: text('tool_call_id'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('notes_id_user').on(t.id, t.userId),
    index('notes_user').on(t.userId, t.createdAt),
    index('notes_user_page').on(t.userId, t.createdAt, t.id),
    uniqueIndex('notes_user_tool_call').on(t.userId, t.toolCallId),
  ],
)

export interface DatasetColumn {
  name: string
  type: 'number' | 'text'
}

export const datasets = sqliteTable(
  'datasets',
  {
    id: id(),
    userId: ownerId(),
    name: text('name').notNull(),
    columns: text('columns', { mode: 'json' }).$type<DatasetColumn[]>().notNull(),
    rowCount: integer('row_count').notNull(),
    createdAt: createdAt(),
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
    userId: childUserId(),
    /** The row as a JSON object keyed by column name, numbers as numbers. */
    data: text('data').notNull(),
  },
  (t) => [primaryKey({ columns: [t.datasetId, t.idx] }), childOf([t.datasetId, t.userId], datasets)],
)

/**
 * One row per admitted run, for the rolling 24 h quota window (kept apart from `runs`, so
 * deleting a thread does not give quota back). Old rows are pruned.
 */
export const usageEvents = sqliteTable(
  'usage_events',
  {
    runId: text('run_id').primaryKey(),
    userId: ownerId(),
    model: text('model').notNull(),
    /** UTC day of `at`, YYYY-MM-DD: the usage_daily row this run counts in. */
    day: text('day').notNull(),
    at: integer('at').notNull(),
    promptTokens: integer('prompt_tokens').notNull().default(0),
    completionTokens: integer('completion_tokens').notNull().default(0),
  },
  (t) => [index('usage_events_user_at').on(t.userId, t.at)],
)

/** Usage per user, UTC day and model: what the usage pages and reports read. */
export const usageDaily = sqliteTable(
  'usage_daily',
  {
    userId: ownerId(),
    day: text('day').notNull(),
    model: text('model').notNull(),
    runs: integer('runs').notNull().default(0),
    promptTokens: integer('prompt_tokens').notNull().default(0),
    completionTokens: integer('completion_tokens').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.userId, t.day, t.model] }), index('usage_daily_day').on(t.day, t.userId, t.model)],
)

/**
 * The append-only audit log. Deliberately no foreign key: events outlive the accounts they
 * mention (a deleted user's id stays as an opaque reference). Never holds content or secrets.
 */
export const auditEvents = sqliteTable(
  'audit_events',
  {
    id: id(),
    at: integer('at').notNull(),
    actorId: text('actor_id'),
    action: text('action').notNull(),
    targetId: text('target_id'),
    ip: text('ip'),
    /** A small JSON object of non-content facts (e.g. the new role). */
    detail: text('detail', { mode: 'json' }).$type<Record<string, string | number | boolean | null>>(),
  },
  (t) => [index('audit_events_actor').on(t.actorId, t.id), index('audit_events_action').on(t.action, t.id)],
)

/** Personal API keys for /v1/* and /mcp (PROTOCOL.md §7); only the secret's SHA-256 is kept. */
export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: id(),
    userId: ownerId(),
    name: text('name').notNull(),
    /** The first characters of the secret (`lcs_` + 8), shown so a user can tell keys apart. */
    prefix: text('prefix').notNull(),
    secretHash: text('secret_hash').notNull(),
    createdAt: createdAt(),
    expiresAt: integer('expires_at'),
    lastUsedAt: integer('last_used_at'),
    revokedAt: integer('revoked_at'),
  },
  (t) => [
    uniqueIndex('api_keys_secret_hash').on(t.secretHash),
    uniqueIndex('api_keys_id_user').on(t.id, t.userId),
    index('api_keys_user_created').on(t.userId, t.createdAt, t.id),
  ],
)

/** Read-only snapshots of a thread's branch, readable by anyone holding the id. */
export const shares = sqliteTable(
  'shares',
  {
    /** At least 128 random bits (base64url); the id is the capability. */
    id: id(),
    userId: childUserId(),
    threadId: text('thread_id').notNull(),
    title: text('title').notNull(),
    /** The copied branch: JSON list of {role, content, agent?, createdAt}. */
    messages: text('messages', { mode: 'json' })
      .$type<{ role: string; content: string; agent?: string; createdAt: string }[]>()
      .notNull(),
    createdAt: createdAt(),
  },
  (t) => [childOf([t.threadId, t.userId], threads), index('shares_user').on(t.userId, t.createdAt, t.id)],
)

/** One checked citation of an answer (PROTOCOL.md §8): the wire contract's shape. */
export type { Citation } from '../protocol/run-events'

export const EMBEDDING_DIMENSIONS = 768

/** libsql's vector column: 768 float32 values, written with `vector32()` or as raw bytes. */
const f32Vector = customType<{ data: Float32Array; driverData: Uint8Array | ArrayBuffer }>({
  dataType: () => `F32_BLOB(${EMBEDDING_DIMENSIONS})`,
  toDriver: (value) => new Uint8Array(value.buffer, value.byteOffset, value.byteLength),
  fromDriver: (value) =>
    new Float32Array(
      value instanceof ArrayBuffer ? value : value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength),
    ),
})

export type DocumentStatus = 'processing' | 'ready' | 'failed'

export const documents = sqliteTable(
  'documents',
  {
    id: id(),
    userId: ownerId(),
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
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('documents_id_user').on(t.id, t.userId),
    index('documents_user_created').on(t.userId, t.createdAt, t.id),
  ],
)

export const documentChunks = sqliteTable(
  'document_chunks',
  {
    id: id(),
    userId: childUserId(),
    documentId: text('document_id').notNull(),
    idx: integer('idx').notNull(),
    text: text('text').notNull(),
    embedding: f32Vector('embedding'),
  },
  (t) => [
    childOf([t.documentId, t.userId], documents),
    index('document_chunks_user').on(t.userId, t.documentId, t.idx),
    index('document_chunks_document').on(t.documentId, t.userId),
  ],
)

/**
 * Per user, chunk vectors ever added and removed (kept by triggers on `document_chunks`,
 * migration 0008): tells the in-memory vector copy whether it is current.
 */
export const documentVectorVersions = sqliteTable('document_vector_versions', {
  userId: text('user_id').primaryKey(),
  added: integer('added').notNull().default(0),
  removed: integer('removed').notNull().default(0),
})
