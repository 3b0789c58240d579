import type { Client } from '@libsql/client'
import { ownerMatch } from '../fts'

/** How many of the whole team's best matches the first way reads before it gives up. */
export const TEAM_CANDIDATES = 1000

/** Before every match: bm25 scores are negative, lower is better. */
export const START: MatchKey = [-Number.MAX_VALUE, 0, 0]

/** A sort key (score, kind, rowid), the search's keyset: messages are kind 1, thread titles kind 0. */
export type MatchKey = [score: number, kind: number, rowid: number]

export interface RankedMatch {
  rowid: number
  score: number
}

// Both ways rank the same bm25 (the owner column weighs 0, and the row lengths and term
// statistics are the same index's), keyset-paged by (score, 1, rowid).
const ranked = (limit: string) =>
  `SELECT rowid, score FROM (SELECT rowid, bm25(messages_fts, 1.0, 0.0) AS score FROM messages_fts WHERE messages_fts MATCH ?1)
   WHERE (score, 1, rowid) > (?2, ?3, ?4) ORDER BY score, rowid LIMIT ${limit}`

const TEAM_FIRST = `WITH candidates AS MATERIALIZED (${ranked('?5')})
  SELECT (SELECT count(*) FROM candidates) AS seen, c.rowid AS rowid, c.score AS score
  FROM candidates c CROSS JOIN messages m ON m.rowid = c.rowid
  WHERE m.user_id = ?6 ORDER BY c.score, c.rowid LIMIT ?7`

const OWNER_ONLY = `SELECT c.rowid AS rowid, c.score AS score FROM (${ranked('?5')}) c
  CROSS JOIN messages m ON m.rowid = c.rowid
  WHERE m.user_id = ?6 ORDER BY c.score, c.rowid`

/**
 * The user's `k` best messages for an FTS5 query over their text, after `after`, best first.
 * The index holds the whole team's messages, so there are two exact ways, each cheap for one kind
 * of user (docs/performance.md, "A long history"):
 *  1. the team's best matches, joined to the user's rows. When the user wrote much of the
 *     history, their best are among the team's best: done when it yields `k` rows, or when the
 *     team had fewer matches than it read. Costs the team's matches of the words, once.
 *  2. else the MATCH names the owner (src/db/fts.ts), so the index yields the user's matches
 *     alone: costs the user's own rows, small for all but the heaviest user.
 * Every row returned is checked against `user_id` in the join; the index never decides alone.
 */
export async function bestMessageMatches(
  client: Client,
  userId: string,
  words: string,
  k: number,
  { after = START, teamCandidates = TEAM_CANDIDATES }: { after?: MatchKey; teamCandidates?: number } = {},
): Promise<RankedMatch[]> {
  const inText = `content : (${words})`
  const team = await client.execute({
    sql: TEAM_FIRST,
    args: [inText, ...after, teamCandidates, userId, k],
  })
  const seen = Number(team.rows[0]?.seen ?? teamCandidates)
  if (team.rows.length >= k || (team.rows.length > 0 && seen < teamCandidates)) return team.rows.map(match)
  const own = await client.execute({
    sql: OWNER_ONLY,
    args: [ownerMatch(userId, 'content', words), ...after, k, userId],
  })
  return own.rows.map(match)
}

const match = (r: Record<string, unknown>): RankedMatch => ({ rowid: Number(r.rowid), score: Number(r.score) })
