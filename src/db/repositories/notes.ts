import { and, eq } from 'drizzle-orm'
import type { Database } from '../client'
import type { NoteView } from '../../protocol'
import { notes } from '../schema'
import { iso, newId, ownerId } from '../scope'
import { ftsQuery } from './messages'
import type { Page, PageRequest } from '../paging'
import { ownedRows } from './owned-rows'

export type { NoteView }

export interface NoteHit {
  id: string
  title: string
  snippet: string
}

const view = (row: typeof notes.$inferSelect): NoteView => ({
  id: row.id,
  title: row.title,
  body: row.body,
  createdAt: iso(row.createdAt),
})

const SNIPPET_CHARS = 160
const leadingSnippet = (body: string) =>
  body.length > SNIPPET_CHARS ? `${body.slice(0, SNIPPET_CHARS).trimEnd()}…` : body

/** Notes of the active user; another user's note is "not found". */
export function notesRepository(database: Database) {
  const { db, client, write } = database
  const owned = ownedRows(database, notes, 'note')

  /** Newest first. */
  async function list(limit = 1000): Promise<NoteView[]> {
    return (await owned.newest(limit)).map(view)
  }

  return {
    list,

    /** One page, newest first, keyed by (createdAt, id). */
    page: (page: PageRequest): Promise<Page<NoteView>> => owned.page(page, view),

    async get(id: string): Promise<NoteView> {
      return view(await owned.get(id))
    },

    /**
     * With `toolCallId` the insert is idempotent: a call repeated after a crash (same id) gets
     * the note the first attempt saved instead of a second one.
     */
    async create(input: { title: string; body: string; toolCallId?: string }): Promise<NoteView> {
      const userId = ownerId()
      const row = {
        id: newId(),
        userId,
        title: input.title,
        body: input.body,
        toolCallId: input.toolCallId,
        createdAt: Date.now(),
      }
      const [saved] = await write((db) => db.insert(notes).values(row).onConflictDoNothing().returning())
      if (saved) return view(saved)
      const [existing] = await db
        .select()
        .from(notes)
        .where(and(eq(notes.userId, userId), eq(notes.toolCallId, input.toolCallId ?? '')))
      if (!existing) throw new Error('the note could not be saved')
      return view(existing)
    },

    remove: owned.remove,

    /**
     * Full-text search over the active user's notes (title and body), best match first. The FTS
     * index is shared, so the join back to `notes` filters on `user_id`. Text with no words to
     * search for lists the newest notes instead.
     */
    async search(text: string, limit: number): Promise<NoteHit[]> {
      const match = ftsQuery(text)
      if (!match) {
        const recent = await list(limit)
        return recent.map((n) => ({ id: n.id, title: n.title, snippet: leadingSnippet(n.body) }))
      }
      const result = await client.execute({
        sql: `SELECT n.id AS id, n.title AS title, n.body AS body, snippet(notes_fts, 1, '', '', '…', 24) AS snippet
              FROM notes_fts CROSS JOIN notes n ON n.rowid = notes_fts.rowid
              WHERE notes_fts MATCH ? AND n.user_id = ?
              ORDER BY rank LIMIT ?`,
        args: [match, ownerId(), limit],
      })
      return result.rows.map((r) => {
        const snippet = String(r.snippet ?? '')
        return {
          id: String(r.id),
          title: String(r.title),
          snippet: snippet.trim() ? snippet : leadingSnippet(String(r.body)),
        }
      })
    },
  }
}

export type NotesRepository = ReturnType<typeof notesRepository>
