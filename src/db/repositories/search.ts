import type { Database } from '../client'
import { ownerId } from '../scope'
import { encodeCursor, InvalidCursorError, type Page, type PageRequest } from '../paging'
import { bestMessageMatches, type MatchKey, START } from './message-matches'
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

/** A thread title's matches (threads_fts has no owner column; a user's titles are few). */
const THREAD_MATCHES = `SELECT rowid, score FROM (
    SELECT t.rowid AS rowid, bm25(threads_fts) AS score FROM threads_fts CROSS JOIN threads t ON t.rowid = threads_fts.rowid
    WHERE threads_fts MATCH ?1 AND t.user_id = ?2)
  WHERE (score, 0, rowid) > (?3, ?4, ?5) ORDER BY score, rowid LIMIT ?6`

/**
 * The page's messages, with their thread's title and the marked snippet. One pass over the
 * index's matches, kept to the page's rows (the unary `+` keeps SQLite from asking the index for
 * each rowid: every such lookup evaluates the whole query again, 0.5 ms each for a prefix word).
 */
const MESSAGE_DETAILS = `SELECT m.rowid AS r, m.id AS id, m.thread_id AS threadId, t.title AS threadTitle, m.role AS role,
    m.created_at AS createdAt, snippet(messages_fts, 0, char(57344), char(57345), '…', 24) AS marked
  FROM messages_fts CROSS JOIN messages m ON m.rowid = messages_fts.rowid
    CROSS JOIN threads t ON t.id = m.thread_id AND t.user_id = m.user_id
  WHERE messages_fts MATCH ?1 AND +messages_fts.rowid IN (SELECT value FROM json_each(?2)) AND m.user_id = ?3`

/** The page's thread titles, marked (as MESSAGE_DETAILS). */
const THREAD_DETAILS = `SELECT t.rowid AS r, t.id AS id, t.id AS threadId, t.title AS threadTitle, NULL AS role,
    t.created_at AS createdAt, highlight(threads_fts, 0, char(57344), char(57345)) AS marked
  FROM threads_fts CROSS JOIN threads t ON t.rowid = threads_fts.rowid
  WHERE threads_fts MATCH ?1 AND +threads_fts.rowid IN (SELECT value FROM json_each(?2)) AND t.user_id = ?3`

const MESSAGE = 1
const TITLE = 0

/** The cursor a search page gave out: its last (score, kind, rowid). */
function afterKey(after: unknown[] | undefined): MatchKey | undefined {
  if (!after) return undefined
  if (!after.every((v) => typeof v === 'number' && Number.isFinite(v))) throw new InvalidCursorError()
  return after as MatchKey
}

const byKey = (a: { key: MatchKey }, b: { key: MatchKey }) =>
  a.key[0] - b.key[0] || a.key[1] - b.key[1] || a.key[2] - b.key[2]

/**
 * Search over the active user's own message texts and thread titles, best match first (bm25),
 * keyset-paged by (score, kind, rowid). Ranked first, marked after: each kind's best `limit + 1`
 * are found by ids alone (messages: src/db/repositories/message-matches.ts), merged, and only
 * the page's rows are read with their snippets and titles. The FTS indexes hold every user's
 * rows; every row is joined back to its table and checked against user_id there, so the index
 * never decides who sees what. CROSS JOIN makes SQLite read the matches first: left to itself it
 * walks all of the user's rows and runs the MATCH once per row (seconds for a user with 100k
 * messages).
 */
export function searchRepository({ client }: Database) {
  return {
    async search(text: string, page: PageRequest): Promise<Page<SearchHit>> {
      const match = searchQuery(text)
      if (!match) return { items: [], nextCursor: null }
      const userId = ownerId()
      const after = afterKey(page.after)
      const k = page.limit + 1
      const messageHits = await bestMessageMatches(client, userId, match, k, { after })
      const titleHits = await client.execute({
        sql: THREAD_MATCHES,
        args: [match, userId, ...(after ?? START), k],
      })
      const top = [
        ...messageHits.map((m) => ({ key: [m.score, MESSAGE, m.rowid] as MatchKey })),
        ...titleHits.rows.map((r) => ({ key: [Number(r.score), TITLE, Number(r.rowid)] as MatchKey })),
      ]
        .sort(byKey)
        .slice(0, k)
      const more = top.length > page.limit
      const kept = more ? top.slice(0, page.limit) : top
      const rowids = (kind: number) => JSON.stringify(kept.filter((h) => h.key[1] === kind).map((h) => h.key[2]))
      const [messageRows, titleRows] = await Promise.all([
        client.execute({ sql: MESSAGE_DETAILS, args: [`content : (${match})`, rowids(MESSAGE), userId] }),
        client.execute({ sql: THREAD_DETAILS, args: [match, rowids(TITLE), userId] }),
      ])
      const details = new Map<string, Record<string, unknown>>([
        ...messageRows.rows.map((r) => [`${MESSAGE}:${r.r}`, r] as const),
        ...titleRows.rows.map((r) => [`${TITLE}:${r.r}`, r] as const),
      ])
      const items = kept.flatMap(({ key }): SearchHit[] => {
        const r = details.get(`${key[1]}:${key[2]}`)
        if (!r) return [] // deleted since it was ranked
        const { text, highlights } = stripMarkers(String(r.marked))
        const isTitle = key[1] === TITLE
        return [
          {
            threadId: String(r.threadId),
            threadTitle: String(r.threadTitle),
            messageId: isTitle ? null : String(r.id),
            role: isTitle ? null : String(r.role),
            snippet: text,
            highlights,
            createdAt: new Date(Number(r.createdAt)).toISOString(),
          },
        ]
      })
      const last = kept.at(-1)
      return { items, nextCursor: more && last ? encodeCursor(last.key) : null }
    },
  }
}

export type SearchRepository = ReturnType<typeof searchRepository>
