/**
 * The long-history fixture shared by bench:data and bench:startup (scripts/bench/data.ts).
 */
import type { Database } from '../../src/db/client'

/** 2,000 pronounceable made-up words; word 0 is the "common" one (≈1 % of messages), 1999 the rare one. */
const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'ti', 'vo', 'ze', 'pa', 'dri', 'sto', 'glu', 'fen', 'bar', 'qui']
export const WORDS = Array.from({ length: 2000 }, (_, i) => {
  let w = ''
  for (let n = i + 17, k = 0; k < 3; k++, n = Math.floor(n / 16)) w += SYLLABLES[n % 16]
  return `${w}${i}`
})

/**
 * Fills a migrated database with a team's history (plain SQL, recursive CTEs; the FTS5 triggers
 * fire as in production): users u00000…, the heavy user u00000 with threads h0000000… and
 * messages hm…, each light user with threads lNNNNN-TTTT and messages lm…; each thread's
 * messages form one chain (each answers the one before) and the thread's leaf is its newest.
 */
export async function fill(
  db: Database,
  opts: { users: number; heavyThreads: number; heavyMessages: number; lightThreads: number; lightMessages: number },
) {
  const c = db.client
  await c.execute('CREATE TEMP TABLE words (k INTEGER PRIMARY KEY, w TEXT NOT NULL)')
  await c.batch(
    WORDS.map((w, k) => ({ sql: 'INSERT INTO words (k, w) VALUES (?, ?)', args: [k, w] })),
    'write',
  )
  await c.execute({
    sql: `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
          INSERT INTO users (id, email, name, role) SELECT printf('u%05d', i), printf('u%05d@example.test', i), 'user ' || i, 'user' FROM n`,
    args: [opts.users - 1],
  })
  // Threads: the heavy user's (u00000) first, then each light user's; ids say whose and which.
  await c.execute({
    sql: `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
          INSERT INTO threads (id, user_id, title, created_at, updated_at) SELECT printf('h%07d', i), 'u00000', 'chat about ' || (SELECT w FROM words WHERE k = (i * 7919) % 1999 + 1), i, i FROM n`,
    args: [opts.heavyThreads - 1],
  })
  await c.execute({
    sql: `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
          INSERT INTO threads (id, user_id, title, created_at, updated_at)
          SELECT printf('l%05d-%04d', i / ?2 + 1, i % ?2), printf('u%05d', i / ?2 + 1), 'chat ' || i, i, i FROM n`,
    args: [(opts.users - 1) * opts.lightThreads - 1, opts.lightThreads],
  })
  // Messages: a chain per thread. Text: 12–20 words picked by multiplicative hashing of the row
  // number; about 1 % of the messages get the common word 0, word 1999 appears nowhere else.
  const text = (i: string) =>
    `coalesce((SELECT group_concat(w, ' ') FROM words WHERE k IN (${Array.from({ length: 20 }, (_, j) => `(${i} * ${7919 + j * 104729} + ${j * 31}) % 1998 + 1`).join(', ')}) AND k % 20 < 12 + (${i} % 9)), 'hello')` +
    ` || CASE WHEN ${i} % 100 = 7 THEN ' ${WORDS[0]}' ELSE '' END`
  // Rounded up, so the last messages fall in the last thread (rounded down, a remainder would
  // name a thread past the last one).
  const perThread = Math.max(1, Math.ceil(opts.heavyMessages / opts.heavyThreads))
  const CHUNK = 50_000
  for (let from = 0; from < opts.heavyMessages; from += CHUNK) {
    const to = Math.min(opts.heavyMessages, from + CHUNK) - 1
    await db.write(() =>
      c.execute({
        sql: `WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?)
              INSERT INTO messages (id, user_id, thread_id, role, content, created_at, parent_id)
              SELECT printf('hm%08d', i), 'u00000', printf('h%07d', i / ?3), CASE WHEN i % 2 = 0 THEN 'user' ELSE 'assistant' END, ${text('i')}, i,
                     CASE WHEN i % ?3 = 0 THEN NULL ELSE printf('hm%08d', i - 1) END FROM n`,
        args: [from, to, perThread],
      }),
    )
    process.stdout.write(
      `\r  heavy user's messages: ${(to + 1).toLocaleString('en-US')} / ${opts.heavyMessages.toLocaleString('en-US')}`,
    )
  }
  const lightTotal = (opts.users - 1) * opts.lightThreads * opts.lightMessages
  for (let from = 0; from < lightTotal; from += CHUNK) {
    const to = Math.min(lightTotal, from + CHUNK) - 1
    await db.write(() =>
      c.execute({
        sql: `WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?)
              INSERT INTO messages (id, user_id, thread_id, role, content, created_at, parent_id)
              SELECT printf('lm%09d', i), printf('u%05d', i / ?3 / ?4 + 1), printf('l%05d-%04d', i / ?3 / ?4 + 1, (i / ?3) % ?4),
                     CASE WHEN i % 2 = 0 THEN 'user' ELSE 'assistant' END, ${text('i')}, i,
                     CASE WHEN i % ?3 = 0 THEN NULL ELSE printf('lm%09d', i - 1) END FROM n`,
        args: [from, to, opts.lightMessages, opts.lightThreads],
      }),
    )
    process.stdout.write(
      `\r  light users' messages: ${(to + 1).toLocaleString('en-US')} / ${lightTotal.toLocaleString('en-US')}     `,
    )
  }
  process.stdout.write('\n')
  await c.execute(
    `UPDATE threads SET leaf_id = (SELECT id FROM messages m WHERE m.thread_id = threads.id AND m.user_id = threads.user_id ORDER BY created_at DESC LIMIT 1)`,
  )
  await c.execute('ANALYZE')
  await c.execute('PRAGMA wal_checkpoint(TRUNCATE)')
}
