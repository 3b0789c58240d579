/**
 * Keyset paging cost against the number of rows behind the page (PROTOCOL.md §5): one user's
 * thread list with 1,000 and with 200,000 threads, first page and a page deep in the list, read
 * through the real repositories on a temp-file database. Prints milliseconds per page (median
 * of 20 reads); nothing is asserted — compare the rows of the table.
 *
 *   bun scripts/bench/paging.ts [--big 200000]
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { openDatabase } from '../../src/db/client'
import { threadsRepository } from '../../src/db/repositories/threads'
import { searchRepository } from '../../src/db/repositories/search'
import { createUserContext } from '../../src/context/user-context'
import { intArg } from './lib/args'
import { benchTempDir } from './lib/temp-dir'

const big = intArg('big', 200_000)
const dir = benchTempDir('bench-paging-')

async function measure(label: string, rows: number, fn: () => Promise<unknown>) {
  const times: number[] = []
  for (let i = 0; i < 20; i++) {
    const t = performance.now()
    await fn()
    times.push(performance.now() - t)
  }
  times.sort((a, b) => a - b)
  console.log(
    `${label.padEnd(34)} ${String(rows).padStart(8)} rows  median ${times[10].toFixed(3)} ms  p90 ${times[18].toFixed(3)} ms`,
  )
}

try {
  for (const count of [1_000, big]) {
    const db = await openDatabase(`file:${join(dir, `paging-${count}.db`)}`)
    const userId = `bench-user-${count}`
    await db.client.execute({
      sql: "INSERT INTO users (id, email, name, role) VALUES (?, ?, 'bench', 'user')",
      args: [userId, `${userId}@example.test`],
    })
    // Straight SQL for the fixture (fast); the reads go through the repositories.
    await db.client.execute({
      sql: `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
            INSERT INTO threads (id, user_id, title, created_at, updated_at, pinned) SELECT printf('t%08d', i), ?, 'chat ' || i, i, i, i % 997 = 0 FROM n`,
      args: [count, userId],
    })
    const threads = threadsRepository(db)
    const search = searchRepository(db)
    const context = createUserContext({ userId, role: 'member' })
    await context.run(async () => {
      const first = await threads.page({ limit: 50 })
      // A cursor deep in the list: the sort key of a row 90% of the way down.
      const deep = [0, Math.floor(count * 0.1), `t${String(Math.floor(count * 0.1)).padStart(8, '0')}`]
      await measure('threads: first page', count, () => threads.page({ limit: 50 }))
      await measure('threads: page after a deep cursor', count, () => threads.page({ limit: 50, after: deep }))
      await measure('threads: the second page (nextCursor)', count, () =>
        threads.page({ limit: 50, after: JSON.parse(Buffer.from(first.nextCursor!, 'base64url').toString()) }),
      )
      // Search ranks every match, so its cost follows the number of matches, not of rows.
      await measure('search: a selective word ("999*")', count, () => search.search('999', { limit: 50 }))
    })
    await context.dispose()
    db.close()
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
