/**
 * The best messages of a user for a search (src/db/repositories/message-matches.ts): both ways
 * (the team's best joined to the user's rows, and the owner-restricted index) give exactly the
 * ranking of a plain scan of every match, for a heavy user, a light one and one with none,
 * whole and page by page, whichever way ends up answering.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { bestMessageMatches, type MatchKey, type RankedMatch } from '../../../src/db/repositories/message-matches'
import { openTestDatabase, type TestDatabase } from '../../support/db'

let tdb: TestDatabase
const WORDS = ['walrus', 'tusk', 'ice', 'floe', 'arctic', 'seal', 'krill', 'shore']

beforeAll(async () => {
  tdb = await openTestDatabase()
  const c = tdb.database.client
  // The team's matches mix owners: the heavy user's best are among them, the others' mostly not.
  const users = { heavy: 300, light: 6, other: 60, none: 0 }
  for (const [user, count] of Object.entries(users)) {
    await c.execute({
      sql: 'INSERT INTO users (id, email, name, created_at) VALUES (?, ?, ?, 1)',
      args: [user, `${user}@example.test`, user],
    })
    await c.execute({
      sql: "INSERT INTO threads (id, user_id, title, created_at, updated_at) VALUES (?, ?, 't', 1, 1)",
      args: [`t-${user}`, user],
    })
    // Texts of varied length and word counts, so bm25 scores differ (and some tie).
    const rows = Array.from({ length: count }, (_, i) => {
      const words = Array.from({ length: 3 + (i % 7) }, (_, j) => WORDS[(i * 3 + j) % WORDS.length])
      return [`m-${user}-${i}`, user, `t-${user}`, `${words.join(' ')}${i % 4 === 0 ? ' walrus walrus' : ''}`]
    })
    for (const args of rows)
      await c.execute({
        sql: "INSERT INTO messages (id, user_id, thread_id, role, content, created_at) VALUES (?, ?, ?, 'user', ?, 1)",
        args,
      })
  }
})
afterAll(() => tdb.close())

/** Every match of the user, scored and sorted in full: the oracle. */
async function everyMatch(userId: string, words: string): Promise<RankedMatch[]> {
  const result = await tdb.database.client.execute({
    sql: `SELECT messages_fts.rowid AS rowid, bm25(messages_fts, 1.0, 0.0) AS score
          FROM messages_fts CROSS JOIN messages m ON m.rowid = messages_fts.rowid
          WHERE messages_fts MATCH ? AND m.user_id = ? ORDER BY score, rowid`,
    args: [`content : (${words})`, userId],
  })
  return result.rows.map((r) => ({ rowid: Number(r.rowid), score: Number(r.score) }))
}

describe('bestMessageMatches', () => {
  for (const userId of ['heavy', 'light', 'other', 'none'])
    for (const words of ['"walrus"', '"tusk"', '"arc"*', '"krill" "shore"'])
      test(`${userId}, ${words}: the same ranking as every match scored, whole and page by page`, async () => {
        const expected = await everyMatch(userId, words)
        const c = tdb.database.client
        // A small cap makes the first way fall back for most users; a large one lets it answer.
        for (const teamCandidates of [5, 40, 1000]) {
          expect(await bestMessageMatches(c, userId, words, 10, { teamCandidates })).toEqual(expected.slice(0, 10))
          const paged: RankedMatch[] = []
          let after: MatchKey | undefined
          for (;;) {
            const page = await bestMessageMatches(c, userId, words, 25, { after, teamCandidates })
            paged.push(...page)
            if (page.length < 25) break
            const last = page.at(-1)!
            after = [last.score, 1, last.rowid]
          }
          expect(paged).toEqual(expected)
        }
      })

  test('the heavy user has matches the light one does not see, and the other way round', async () => {
    const c = tdb.database.client
    const heavy = new Set((await bestMessageMatches(c, 'heavy', '"walrus"', 1000)).map((m) => m.rowid))
    const light = await bestMessageMatches(c, 'light', '"walrus"', 1000)
    expect(heavy.size).toBeGreaterThan(50)
    expect(light.length).toBeGreaterThan(0)
    for (const m of light) expect(heavy.has(m.rowid)).toBe(false)
  })
})
