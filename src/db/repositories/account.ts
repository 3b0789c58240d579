import { asc, eq } from 'drizzle-orm'
import type { Database } from '../client'
import { datasetRows, datasets, messages, notes, runs, threads, usageDaily, users } from '../schema'
import { iso, ownerId } from '../scope'
import { allOwned } from './owned-rows'
import { messageView, type MessageView } from './messages'
import { threadView, type ThreadView } from './threads'

/** A row as exported: no owner column (it is the caller), times as ISO strings. */
function exported<T extends Record<string, unknown>>(row: T): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(row)) {
    if (key === 'userId' || key === 'passwordHash') continue
    out[key] = key.endsWith('At') && typeof value === 'number' ? iso(value) : value
  }
  return out
}

/**
 * Everything the active user owns, for "take my data out" (PROTOCOL.md §5). Whole rows are
 * selected, so columns other features add come along on their own; threads and messages are
 * read into the views the thread export writes, so an account export imports back.
 */
export function accountRepository({ db }: Database) {
  return {
    async profile() {
      const [row] = await db.select().from(users).where(eq(users.id, ownerId()))
      if (!row) return undefined
      return { id: row.id, email: row.email, name: row.name, role: row.role, createdAt: iso(row.createdAt) }
    },

    /**
     * Every thread with every message of every branch (oldest first) and its current leaf, read
     * in two queries; the account export writes each as a thread export (src/threads/export.ts).
     */
    async threadsWithMessages(): Promise<{ thread: ThreadView; leafId: string | null; messages: MessageView[] }[]> {
      const [threadRows, messageRows] = await Promise.all([
        allOwned(db, threads, asc(threads.createdAt), asc(threads.id)),
        allOwned(db, messages, asc(messages.createdAt), asc(messages.id)),
      ])
      const byThread = new Map<string, MessageView[]>()
      for (const m of messageRows) {
        const list = byThread.get(m.threadId)
        if (list) list.push(messageView(m))
        else byThread.set(m.threadId, [messageView(m)])
      }
      return threadRows.map((t) => ({
        thread: threadView(t),
        leafId: t.leafId ?? null,
        messages: byThread.get(t.id) ?? [],
      }))
    },

    async runs() {
      // The run fields the export lists (not its input: the thread's messages carry that).
      const rows = await allOwned(db, runs, asc(runs.createdAt))
      return rows.map(({ id, threadId, status, agent, model, createdAt, finishedAt }) =>
        exported({ id, threadId, status, agent, model, createdAt, finishedAt }),
      )
    },

    async notes() {
      return (await allOwned(db, notes, asc(notes.createdAt))).map(exported)
    },

    async datasetsWithRows() {
      const [sets, rows] = await Promise.all([
        allOwned(db, datasets, asc(datasets.createdAt)),
        allOwned(db, datasetRows, asc(datasetRows.datasetId), asc(datasetRows.idx)),
      ])
      const byDataset = new Map<string, unknown[]>()
      for (const r of rows) {
        const list = byDataset.get(r.datasetId) ?? []
        list.push(JSON.parse(r.data))
        byDataset.set(r.datasetId, list)
      }
      return sets.map((d) => ({ ...exported(d), rows: byDataset.get(d.id) ?? [] }))
    },

    async usage() {
      return (await allOwned(db, usageDaily, asc(usageDaily.day), asc(usageDaily.model))).map(exported)
    },
  }
}

export type AccountRepository = ReturnType<typeof accountRepository>
