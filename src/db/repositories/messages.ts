import { and, asc, desc, eq, sql } from 'drizzle-orm'
import type { Database } from '../client'
import { messages, type Citation } from '../schema'
import { iso, newId, ownerId } from '../scope'

export type MessageRole = 'user' | 'assistant' | 'system'

export interface MessageView {
  id: string
  role: MessageRole
  content: string
  agent?: string
  runId?: string
  /** Checked document citations of an assistant answer (PROTOCOL.md §8). */
  citations?: Citation[]
  createdAt: string
}

const view = (row: typeof messages.$inferSelect): MessageView => ({
  id: row.id,
  role: row.role,
  content: row.content,
  ...(row.agent && { agent: row.agent }),
  ...(row.runId && { runId: row.runId }),
  ...(row.citations && { citations: row.citations }),
  createdAt: iso(row.createdAt),
})

/** Turns free text into an FTS5 query of quoted terms, so user text is never FTS syntax. */
export function ftsQuery(text: string): string | undefined {
  const terms = text.toLowerCase().match(/[\p{L}\p{N}_]+/gu)?.slice(0, 16)
  if (!terms?.length) return undefined
  return terms.map((t) => `"${t}"`).join(' OR ')
}

/** Messages of the active user's threads. Callers check the thread first (threads repository). */
export function messagesRepository({ db, client, write }: Database) {
  return {
    async listForThread(threadId: string): Promise<MessageView[]> {
      const rows = await db
        .select()
        .from(messages)
        .where(and(eq(messages.userId, ownerId()), eq(messages.threadId, threadId)))
        .orderBy(asc(messages.createdAt), asc(messages.id))
      return rows.map(view)
    },

    /** The newest `limit` messages, oldest first (conversation memory). */
    async recent(threadId: string, limit: number): Promise<MessageView[]> {
      const rows = await db
        .select()
        .from(messages)
        .where(and(eq(messages.userId, ownerId()), eq(messages.threadId, threadId)))
        .orderBy(desc(messages.createdAt), desc(messages.id))
        .limit(limit)
      return rows.reverse().map(view)
    },

    async add(input: { threadId: string; role: MessageRole; content: string; agent?: string; runId?: string; id?: string; citations?: Citation[] }): Promise<MessageView> {
      const userId = ownerId()
      const row = { id: input.id ?? newId(), userId, threadId: input.threadId, role: input.role, content: input.content, agent: input.agent, runId: input.runId, citations: input.citations ?? null, createdAt: Date.now() }
      const [saved] = await write((db) => db.insert(messages).values(row).returning())
      return view(saved)
    },

    /** Full-text search over the active user's own messages. */
    async search(text: string, limit: number): Promise<{ threadId: string; role: string; snippet: string }[]> {
      const match = ftsQuery(text)
      if (!match) return []
      const result = await client.execute({
        sql: `SELECT m.thread_id AS threadId, m.role AS role, snippet(messages_fts, 0, '', '', '…', 16) AS snippet
              FROM messages_fts JOIN messages m ON m.rowid = messages_fts.rowid
              WHERE messages_fts MATCH ? AND m.user_id = ?
              ORDER BY rank LIMIT ?`,
        args: [match, ownerId(), limit],
      })
      return result.rows.map((r) => ({ threadId: String(r.threadId), role: String(r.role), snippet: String(r.snippet) }))
    },
  }
}

export type MessagesRepository = ReturnType<typeof messagesRepository>
