import { and, asc, desc, eq, inArray, isNull, or, sql } from 'drizzle-orm'
import type { Database, Db } from '../client'
import { messages, threads, type Citation } from '../schema'
import { iso, newId, ownerId } from '../scope'
import { bestMessageMatches } from './message-matches'
import { sqlIn } from '../group-commit'
import { NotFoundError } from '../../http/errors'
import { encodeCursor, InvalidCursorError, type Page, type PageRequest } from '../paging'

export type MessageRole = 'user' | 'assistant' | 'system'
export type MessageStatus = 'completed' | 'failed' | 'cancelled'

export interface MessageView {
  id: string
  role: MessageRole
  content: string
  agent?: string
  runId?: string
  /** Checked document citations of an assistant answer (PROTOCOL.md §8). */
  citations?: Citation[]
  createdAt: string
  /** The message this one follows; null for a root (PROTOCOL.md §6). */
  parentId: string | null
  status?: MessageStatus
  error?: { code: string; message: string }
}

// An added message's statements as fixed text (src/db/group-commit.ts, sqlIn).
/** A thread's leaf inside a grouped write (runs.start uses it too). */
export const THREAD_LEAF = 'SELECT leaf_id FROM threads WHERE id = ? AND user_id = ?'
const INSERT_MESSAGE = `INSERT INTO messages (id, user_id, thread_id, role, content, agent, run_id, created_at, parent_id, status,
    error_code, error_message, citations) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
const MOVE_LEAF = 'UPDATE threads SET leaf_id = ?, updated_at = max(updated_at + 1, ?) WHERE id = ? AND user_id = ?'
/** A message on a branch, with the ids a client needs to switch to a sibling branch. */
export interface BranchMessageView extends MessageView {
  siblingIds: string[]
}

export interface NewMessage {
  threadId: string
  role: MessageRole
  content: string
  agent?: string
  runId?: string
  id?: string
  /** Absent: follows the thread's current leaf; null: a new root. */
  parentId?: string | null
  status?: MessageStatus
  error?: { code: string; message: string }
  /** Checked document citations of an answer (PROTOCOL.md §8). */
  citations?: Citation[]
}

type Row = typeof messages.$inferSelect

export const messageView = (row: Row): MessageView => ({
  id: row.id,
  role: row.role,
  content: row.content,
  ...(row.agent && { agent: row.agent }),
  ...(row.runId && { runId: row.runId }),
  ...(row.citations && { citations: row.citations }),
  createdAt: iso(row.createdAt),
  parentId: row.parentId ?? null,
  ...(row.status && { status: row.status }),
  ...(row.errorCode && { error: { code: row.errorCode, message: row.errorMessage ?? '' } }),
})

/** Turns free text into an FTS5 query of quoted terms, so user text is never FTS syntax. */
export function ftsQuery(text: string): string | undefined {
  const terms = searchWords(text)
  if (!terms.length) return undefined
  return terms.map((t) => `"${t}"`).join(' OR ')
}

/** The words of what a person typed, lowercased (letters, digits, `_`): at most 16 of them. */
export function searchWords(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? []).slice(0, 16)
}

/**
 * The user's messages with these ids (others' are left out). Fetched by primary key: the unary
 * `+` keeps SQLite from choosing the user_id index instead; with real statistics it did, and
 * scanned all of a heavy user's messages for every page and every run's conversation memory
 * (18 ms at 100k messages, docs/performance.md "A long history"). The user_id check still
 * applies to every row.
 */
export function messageRowsById(db: Db, userId: string, ids: string[]) {
  return db
    .select()
    .from(messages)
    .where(and(sql`+${messages.userId} = ${userId}`, inArray(messages.id, ids)))
}

/** Messages of the active user's threads. Callers check the thread first (threads repository). */
export function messagesRepository({ db, client, writeInGroup }: Database) {
  const mineIn = (threadId: string) => and(eq(messages.userId, ownerId()), eq(messages.threadId, threadId))

  /**
   * The ids of the branch ending at `leafId`, root first, walked up the parent links (one
   * primary-key lookup per message of the branch, whatever else the thread or the table holds);
   * with `newest`, only that many ending at the leaf.
   */
  async function pathIds(threadId: string, leafId: string, newest = 100_001): Promise<string[]> {
    const userId = ownerId()
    const result = await client.execute({
      sql: `WITH RECURSIVE up(id, parent_id, depth) AS (
              SELECT id, parent_id, 0 FROM messages WHERE id = ? AND user_id = ? AND thread_id = ?
              UNION ALL
              SELECT m.id, m.parent_id, up.depth + 1 FROM messages m JOIN up ON m.id = up.parent_id
              WHERE m.user_id = ? AND m.thread_id = ? AND up.depth < ?
            )
            SELECT id FROM up ORDER BY depth DESC`,
      args: [leafId, userId, threadId, userId, threadId, Math.max(0, newest - 1)],
    })
    return result.rows.map((r) => String(r.id))
  }

  /** The rows of `ids`, in that order. */
  async function rowsInOrder(ids: string[]): Promise<Row[]> {
    if (ids.length === 0) return []
    const userId = ownerId()
    const rows: Row[] = []
    // Bounded IN lists; the order comes from the walk.
    for (let i = 0; i < ids.length; i += 500) rows.push(...(await messageRowsById(db, userId, ids.slice(i, i + 500))))
    const byId = new Map(rows.map((r) => [r.id, r]))
    return ids.map((id) => byId.get(id)!).filter(Boolean)
  }

  /** The branch ending at `leafId`, root first; with `newest`, only that many ending at the leaf. */
  async function path(threadId: string, leafId: string, newest?: number): Promise<Row[]> {
    return rowsInOrder(await pathIds(threadId, leafId, newest))
  }

  /** For each parent (null = the roots), its children's ids oldest first. */
  async function childrenOf(threadId: string, parentIds: (string | null)[]): Promise<Map<string | null, string[]>> {
    const ids = parentIds.filter((p): p is string => p !== null)
    const wantsRoots = parentIds.includes(null)
    const conditions = [
      ...(ids.length ? [inArray(messages.parentId, ids)] : []),
      ...(wantsRoots ? [isNull(messages.parentId)] : []),
    ]
    const out = new Map<string | null, string[]>()
    if (conditions.length === 0) return out
    const rows = await db
      .select({ id: messages.id, parentId: messages.parentId })
      .from(messages)
      .where(and(mineIn(threadId), or(...conditions)))
      .orderBy(asc(messages.createdAt), asc(messages.id))
    for (const r of rows) {
      const key = r.parentId ?? null
      const list = out.get(key)
      if (list) list.push(r.id)
      else out.set(key, [r.id])
    }
    return out
  }

  return {
    /**
     * The newest message below `id` (following the newest child at each step), or `id` itself
     * when it has none: where a branch that passes through `id` currently ends.
     */
    async latestBelow(threadId: string, id: string): Promise<string> {
      const userId = ownerId()
      const result = await client.execute({
        sql: `WITH RECURSIVE down(id, depth) AS (
                SELECT ?, 0
                UNION ALL
                SELECT (SELECT c.id FROM messages c WHERE c.user_id = ? AND c.thread_id = ? AND c.parent_id = down.id ORDER BY c.created_at DESC, c.id DESC LIMIT 1), depth + 1
                FROM down WHERE down.id IS NOT NULL AND depth < 100000
              )
              SELECT id FROM down WHERE id IS NOT NULL ORDER BY depth DESC LIMIT 1`,
        args: [id, userId, threadId],
      })
      return String(result.rows[0]?.id ?? id)
    },

    /** Every message of a thread (all branches), oldest first: export and tests. */
    async listForThread(threadId: string): Promise<MessageView[]> {
      const rows = await db
        .select()
        .from(messages)
        .where(mineIn(threadId))
        .orderBy(asc(messages.createdAt), asc(messages.id))
      return rows.map(messageView)
    },

    async get(id: string): Promise<MessageView & { threadId: string }> {
      const [row] = await db
        .select()
        .from(messages)
        .where(and(eq(messages.id, id), eq(messages.userId, ownerId())))
      if (!row) throw new NotFoundError('message')
      return { ...messageView(row), threadId: row.threadId }
    },

    /** The branch ending at `leafId`, root first (conversation memory, shares, export). */
    async branch(threadId: string, leafId: string): Promise<MessageView[]> {
      return (await path(threadId, leafId)).map(messageView)
    },

    /**
     * One page of the branch ending at `leafId`, root first, each message with its siblings.
     * The cursor names the leaf and the last message given, so pages stay on one branch while
     * the thread grows elsewhere.
     */
    async branchPage(threadId: string, leafId: string, page: PageRequest): Promise<Page<BranchMessageView>> {
      // The walk reads ids only; whole rows are read for the page alone.
      const ids = await pathIds(threadId, leafId)
      let start = 0
      if (page.after) {
        const [cursorLeaf, lastId] = page.after as [string, string]
        start = cursorLeaf === leafId ? ids.indexOf(lastId) + 1 : 0
        if (start === 0) throw new InvalidCursorError()
      }
      const slice = await rowsInOrder(ids.slice(start, start + page.limit))
      const siblings = await childrenOf(threadId, [...new Set(slice.map((r) => r.parentId ?? null))])
      const items = slice.map((r) => ({ ...messageView(r), siblingIds: siblings.get(r.parentId ?? null) ?? [r.id] }))
      const more = start + page.limit < ids.length
      return { items, nextCursor: more && slice.length ? encodeCursor([leafId, slice[slice.length - 1].id]) : null }
    },

    /** The newest `limit` messages of the branch ending at `leafId`, oldest first (conversation memory). */
    async recentOnBranch(threadId: string, leafId: string | null, limit: number): Promise<MessageView[]> {
      if (!leafId || limit <= 0) return []
      return (await path(threadId, leafId, limit)).map(messageView)
    },

    /** The newest `limit` messages of the thread's current branch, oldest first. */
    async recent(threadId: string, limit: number): Promise<MessageView[]> {
      const [thread] = await db
        .select({ leafId: threads.leafId })
        .from(threads)
        .where(and(eq(threads.id, threadId), eq(threads.userId, ownerId())))
      if (!thread?.leafId || limit <= 0) return []
      return (await path(threadId, thread.leafId, limit)).map(messageView)
    },

    /** Adds a message and makes it the thread's current leaf (and newest activity), in one write. */
    async add(input: NewMessage): Promise<MessageView> {
      const userId = ownerId()
      const saved = await writeInGroup(async (tx) => {
        const inTx = sqlIn(tx)
        let parentId = input.parentId
        if (parentId === undefined) {
          const [thread] = (await inTx.execute({ sql: THREAD_LEAF, args: [input.threadId, userId] })).rows
          parentId = (thread?.leaf_id as string | null | undefined) ?? null
        }
        const row: Row = {
          id: input.id ?? newId(),
          userId,
          threadId: input.threadId,
          role: input.role,
          content: input.content,
          agent: input.agent ?? null,
          runId: input.runId ?? null,
          createdAt: Date.now(),
          parentId,
          status: input.status ?? (input.role === 'assistant' ? 'completed' : null),
          errorCode: input.error?.code ?? null,
          errorMessage: input.error?.message ?? null,
          citations: input.citations ?? null,
        }
        // Fixed text, no `returning`: the row is what was written, and the insert fails or
        // stores it whole (drizzle building both was a visible part of each answer's cost).
        await inTx.execute({
          sql: INSERT_MESSAGE,
          args: [
            row.id,
            userId,
            row.threadId,
            row.role,
            row.content,
            row.agent,
            row.runId,
            row.createdAt,
            row.parentId,
            row.status,
            row.errorCode,
            row.errorMessage,
            row.citations === null ? null : JSON.stringify(row.citations),
          ],
        })
        // The thread sorts first from now on: marked in the same transaction (one commit per answer, not two).
        await inTx.execute({ sql: MOVE_LEAF, args: [row.id, row.createdAt, input.threadId, userId] })
        return row
      })
      return messageView(saved)
    },

    /** The user message a run answered (its parent for an answer, its text for a retry). */
    async userMessageOfRun(runId: string): Promise<MessageView | undefined> {
      const [row] = await db
        .select()
        .from(messages)
        .where(and(eq(messages.userId, ownerId()), eq(messages.runId, runId), eq(messages.role, 'user')))
        .orderBy(desc(messages.createdAt))
        .limit(1)
      return row && messageView(row)
    },

    /** Full-text search over the active user's own messages (the search_history tool). */
    async search(text: string, limit: number): Promise<{ threadId: string; role: string; snippet: string }[]> {
      const match = ftsQuery(text)
      if (!match) return []
      const userId = ownerId()
      const best = await bestMessageMatches(client, userId, match, limit)
      const result = await client.execute({
        // Snippets for the kept rows only, in one pass over the matches (the `+` keeps the index
        // from evaluating the query once per rowid), then put back in rank order.
        sql: `SELECT m.rowid AS r, m.thread_id AS threadId, m.role AS role, snippet(messages_fts, 0, '', '', '…', 16) AS snippet
              FROM messages_fts CROSS JOIN messages m ON m.rowid = messages_fts.rowid
              WHERE messages_fts MATCH ?1 AND +messages_fts.rowid IN (SELECT value FROM json_each(?2)) AND m.user_id = ?3`,
        args: [`content : (${match})`, JSON.stringify(best.map((b) => b.rowid)), userId],
      })
      const byRowid = new Map(result.rows.map((r) => [Number(r.r), r]))
      return best.flatMap(({ rowid }) => {
        const r = byRowid.get(rowid)
        return r ? [{ threadId: String(r.threadId), role: String(r.role), snippet: String(r.snippet) }] : []
      })
    },
  }
}

export type MessagesRepository = ReturnType<typeof messagesRepository>
