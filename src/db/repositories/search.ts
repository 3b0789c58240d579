import type { Database } from '../client'
import { ownerId } from '../scope'
import { ownerMatch } from '../fts'
import { encodeCursor, type Page, type PageRequest } from '../paging'
import { searchWords } from './messages'

import type { SearchHit } from '../../protocol'

export type { SearchHit }

// Private-use characters mark matches inside FTS5's snippet; they are removed before answering.
const OPEN = '\uE000'
const CLOSE = '\uE001'

/**
 * FTS5 query for what a person types: every word must appear (any form, through the porter
 * stemmer), the last one also as a prefix, so results follow the typing. Words are quoted so
 * user text is never FTS syntax.
 */
export function searchQuery(text: string): string | undefined {
  const terms = searchWords(text)
  if (!terms.length) return undefined
  return terms.map((t, i) => (i === terms.length - 1 ? `"${t}"*` : `"${t}"`)).join(' ')
}

/** Removes the match markers, returning the plain text and where the matches were. */
export function stripMarkers(marked: string): { text: string; highlights: [number, number][] } {
  let text = ''
  const highlights: [number, number][] = []
  let start = -1
  for (const ch of marked) {
    if (ch === OPEN) start = text.length
    else if (ch === CLOSE) {
      if (start >= 0 && text.length > start) highlights.push([start, text.length])
      start = -1
    } else text += ch
  }
  return { text, highlights }
}

/**
 * Search over the active user's own message texts and thread titles, best match first (bm25),
 * keyset-paged by (score, kind, id). The FTS indexes hold every user's rows; the join back to
 * the base tables filters on user_id, so the index never decides who sees what. CROSS JOIN
 * makes SQLite read the matches first: left to itself it walks all of the user's rows and runs
 * the MATCH once per row (seconds for a user with 100k messages).
 */
export function searchRepository({ client }: Database) {
  return {
    async search(text: string, page: PageRequest): Promise<Page<SearchHit>> {
      const match = searchQuery(text)
      if (!match) return { items: [], nextCursor: null }
      const userId = ownerId()
      // Messages: only the user's matches come out of the index (src/db/fts.ts); the word
      // itself is searched in the text column alone, never in the owner column.
      const inMessages = ownerMatch(userId, 'content', match)
      const after = page.after ? 'WHERE (score, kind, id) > (?, ?, ?)' : ''
      const result = await client.execute({
        // Ranked first, marked after: the inner query scores every match but carries only ids;
        // snippets and titles are made for the page alone (a word in 10,000 of the user's
        // messages made 10,000 snippets for a page of 20).
        sql: `SELECT top.score, top.kind, top.id, top.threadId, t.title AS threadTitle, top.role, top.createdAt,
                CASE top.kind
                  WHEN 1 THEN (SELECT snippet(messages_fts, 0, char(57344), char(57345), '…', 24)
                               FROM messages_fts WHERE messages_fts MATCH ? AND rowid = top.r)
                  ELSE (SELECT highlight(threads_fts, 0, char(57344), char(57345))
                        FROM threads_fts WHERE threads_fts MATCH ? AND rowid = top.r)
                END AS marked
              FROM (
                SELECT * FROM (
                  SELECT bm25(messages_fts, 1.0, 0.0) AS score, 1 AS kind, m.id AS id, m.rowid AS r, m.thread_id AS threadId,
                         m.role AS role, m.created_at AS createdAt
                  FROM messages_fts CROSS JOIN messages m ON m.rowid = messages_fts.rowid
                  WHERE messages_fts MATCH ? AND m.user_id = ?
                  UNION ALL
                  SELECT bm25(threads_fts) AS score, 0 AS kind, t.id AS id, t.rowid AS r, t.id AS threadId,
                         NULL AS role, t.created_at AS createdAt
                  FROM threads_fts CROSS JOIN threads t ON t.rowid = threads_fts.rowid
                  WHERE threads_fts MATCH ? AND t.user_id = ?
                ) ${after}
                ORDER BY score, kind, id LIMIT ?
              ) top
              CROSS JOIN threads t ON t.id = top.threadId AND t.user_id = ?
              ORDER BY top.score, top.kind, top.id`,
        args: [
          inMessages,
          match,
          inMessages,
          userId,
          match,
          userId,
          ...(page.after ? (page.after as (string | number)[]) : []),
          page.limit + 1,
          userId,
        ],
      })
      const rows = result.rows
      const more = rows.length > page.limit
      const kept = more ? rows.slice(0, page.limit) : rows
      const items = kept.map((r): SearchHit => {
        const { text, highlights } = stripMarkers(String(r.marked))
        const isTitle = Number(r.kind) === 0
        return {
          threadId: String(r.threadId),
          threadTitle: String(r.threadTitle),
          messageId: isTitle ? null : String(r.id),
          role: isTitle ? null : String(r.role),
          snippet: text,
          highlights,
          createdAt: new Date(Number(r.createdAt)).toISOString(),
        }
      })
      const last = kept.at(-1)
      return {
        items,
        nextCursor: more && last ? encodeCursor([Number(last.score), Number(last.kind), String(last.id)]) : null,
      }
    },
  }
}

export type SearchRepository = ReturnType<typeof searchRepository>
