/**
 * A long history (issue 20): reads of a team's database grown large, for its heaviest user and
 * for a light one, against the same reads on an empty database in the same run.
 *
 *   bun run bench:data [--users 1000] [--threads 1000] [--messages 100000] [--light-threads 10] [--light-messages 20] [--reads 50]
 *   bun run bench:data --threads 10000 --messages 1000000      # the full size of the issue (~10 min, ~1 GB of temp disk)
 *
 * The fixture is written with plain SQL (a recursive CTE per table, the FTS5 triggers firing as
 * in production): `--users` users, each light one with `--light-threads` threads of
 * `--light-messages` messages, and one heavy user with `--threads` threads holding `--messages`
 * messages in all. Messages form one chain per thread (each answers the one before), with text of
 * 12–20 words drawn from 2,000 made-up words, so searches match a realistic share of rows.
 *
 * Every read goes through the real repositories in the user's context, `--reads` times each
 * (after 5 warm-up reads), and reports p50/p95:
 *   - threads: the first page (50), sorted as the sidebar shows them;
 *   - messages: the newest page of a thread (the branch page the UI opens) and the conversation
 *     memory a run reads (`recentOnBranch`, 50 messages);
 *   - search: a word in about 1 % of the messages, and a rare one;
 *   - run start, database part: what `RunManager.start` does in the database for a follow-up
 *     question (thread exists, its leaf, the conversation memory, the run row + user message +
 *     thread touch batch), against the same on an empty database.
 * Finally: the file's bytes (after a WAL checkpoint) per message.
 */
import { rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { openDatabase, type Database } from '../../src/db/client'
import { threadsRepository } from '../../src/db/repositories/threads'
import { messagesRepository } from '../../src/db/repositories/messages'
import { runsRepository } from '../../src/db/repositories/runs'
import { searchRepository } from '../../src/db/repositories/search'
import { createUserContext } from '../../src/context/user-context'
import { newId } from '../../src/db/scope'
import { fill, WORDS } from './history-fixture'
import { intArg } from './lib/args'
import { load, printMachine } from './lib/machine'
import { fmtBytes, fmtMs, round, summarize, type Summary } from './lib/numbers'
import { commandLine, printTable, recordResult } from './lib/results'
import { runBenchmark } from './lib/run'
import { benchTempDir } from './lib/temp-dir'

const USERS = intArg('users', 1000)
const THREADS = intArg('threads', 1000)
const MESSAGES = intArg('messages', 100_000)
const LIGHT_THREADS = intArg('light-threads', 10)
const LIGHT_MESSAGES = intArg('light-messages', 20)
const READS = intArg('reads', 50)
/** SQLITE_MMAP_MB for both databases (0 = the server's default: no mapping). */
const MMAP_MB = intArg('mmap-mb', 0)
const TARGETS = { page: 10, search: 50, runStartRatio: 1.1 }

printMachine(
  `long history: ${USERS} users; the heavy one has ${THREADS.toLocaleString('en-US')} threads and ${MESSAGES.toLocaleString('en-US')} messages`,
)
const loadStart = load()
const dir = benchTempDir('bench-data-')

async function timed(fn: () => Promise<unknown>): Promise<Summary> {
  for (let i = 0; i < 5; i++) await fn()
  const times: number[] = []
  for (let i = 0; i < READS; i++) {
    const t = performance.now()
    await fn()
    times.push(performance.now() - t)
  }
  return summarize(times)
}

/** The reads of one user; `threadId` is one of theirs with a full branch. */
async function readsOf(db: Database, userId: string, threadId: string) {
  const threads = threadsRepository(db)
  const messages = messagesRepository(db)
  const runs = runsRepository(db)
  const search = searchRepository(db)
  const context = createUserContext({ userId, role: 'member' })
  const out = await context.run(async () => {
    const leaf = (await threads.leafOf(threadId))!
    const figures = {
      threadsPage: await timed(() => threads.page({ limit: 50 })),
      messagesPage: await timed(() => messages.branchPage(threadId, leaf, { limit: 50 })),
      memory: await timed(() => messages.recentOnBranch(threadId, leaf, 50)),
      searchCommon: await timed(() => search.search(WORDS[0], { limit: 50 })),
      searchRare: await timed(() => search.search(WORDS[1999], { limit: 50 })),
      // A follow-up question's database work; each adds a run and a user message, so the
      // thread grows by READS + 5 messages (a fraction of a percent of the heavy user's rows).
      runStart: await timed(async () => {
        await threads.exists(threadId)
        const current = await threads.leafOf(threadId)
        await messages.recentOnBranch(threadId, current, 50)
        await runs.start(
          {
            id: newId(),
            threadId,
            agent: 'triage',
            model: 'bench',
            input: `a follow-up question ${WORDS[5]}`,
            answerParentId: null,
          },
          { id: newId() },
        )
      }),
    }
    return figures
  })
  await context.dispose()
  return out
}

await runBenchmark('data benchmark', async () => {
  // The same-run baseline: the same reads on an empty database (one user, one thread as long as
  // the heavy user's threads, so the reads do the same work and only the database's size differs).
  const empty = await openDatabase(`file:${join(dir, 'empty.db')}`, undefined, { mmapBytes: MMAP_MB * 1024 * 1024 })
  const threadLength = Math.max(2, Math.ceil(MESSAGES / THREADS))
  await fill(empty, { users: 1, heavyThreads: 1, heavyMessages: threadLength, lightThreads: 0, lightMessages: 0 })
  const emptyReads = await readsOf(empty, 'u00000', 'h0000000')
  empty.close()

  const started = performance.now()
  const db = await openDatabase(`file:${join(dir, 'big.db')}`, undefined, { mmapBytes: MMAP_MB * 1024 * 1024 })
  await fill(db, {
    users: USERS,
    heavyThreads: THREADS,
    heavyMessages: MESSAGES,
    lightThreads: LIGHT_THREADS,
    lightMessages: LIGHT_MESSAGES,
  })
  const fillMs = performance.now() - started
  const [{ n: messageCount }] = (await db.client.execute('SELECT count(*) AS n FROM messages')).rows as unknown as {
    n: number
  }[]
  const [{ n: hits }] = (
    await db.client.execute({
      sql: 'SELECT count(*) AS n FROM messages_fts WHERE messages_fts MATCH ?',
      args: [WORDS[0]],
    })
  ).rows as unknown as { n: number }[]
  const bytes = statSync(join(dir, 'big.db')).size
  console.log(
    `filled in ${fmtMs(fillMs)}: ${Number(messageCount).toLocaleString('en-US')} messages, ${fmtBytes(bytes)} (${round(bytes / Number(messageCount), 0)} bytes per message); the common word is in ${Number(hits).toLocaleString('en-US')} messages of all users`,
  )

  const heavy = await readsOf(db, 'u00000', `h${String(Math.floor(THREADS / 2)).padStart(7, '0')}`)
  const light = await readsOf(
    db,
    `u${String(Math.floor(USERS / 2)).padStart(5, '0')}`,
    `l${String(Math.floor(USERS / 2)).padStart(5, '0')}-0000`,
  )
  db.close()

  const row = (label: string, pick: (f: typeof heavy) => Summary, target: number | undefined) => {
    const h = pick(heavy)
    const l = pick(light)
    return [
      label,
      fmtMs(h.p50),
      fmtMs(h.p95),
      fmtMs(l.p50),
      fmtMs(l.p95),
      fmtMs(pick(emptyReads).p95),
      target === undefined ? '—' : `≤ ${target} ms`,
    ]
  }
  printTable(
    [
      row('threads: first page (50)', (f) => f.threadsPage, TARGETS.page),
      row("messages: a thread's newest page (50)", (f) => f.messagesPage, TARGETS.page),
      row('conversation memory (50 messages)', (f) => f.memory, TARGETS.page),
      row('search: word in ~1 % of messages', (f) => f.searchCommon, TARGETS.search),
      row('search: rare word', (f) => f.searchRare, TARGETS.search),
      row('run start, database part', (f) => f.runStart, undefined),
    ],
    ['read', 'heavy p50', 'heavy p95', 'light p50', 'light p95', 'empty db p95', 'target (p95)'],
  )
  const pageP95 = Math.max(...[heavy, light].flatMap((f) => [f.threadsPage.p95, f.messagesPage.p95, f.memory.p95]))
  const searchP95 = Math.max(heavy.searchCommon.p95, heavy.searchRare.p95, light.searchCommon.p95, light.searchRare.p95)
  const runStartRatio = Math.max(heavy.runStart.p50, light.runStart.p50) / emptyReads.runStart.p50
  console.log(
    `run start (database part) p50: heavy ${fmtMs(heavy.runStart.p50)}, light ${fmtMs(light.runStart.p50)}, empty database ${fmtMs(emptyReads.runStart.p50)}: ×${round(runStartRatio, 2)}`,
  )
  recordResult('data', {
    command: commandLine('bench:data'),
    params: {
      users: USERS,
      threads: THREADS,
      messages: MESSAGES,
      lightThreads: LIGHT_THREADS,
      lightMessages: LIGHT_MESSAGES,
      reads: READS,
      mmapMb: MMAP_MB,
    },
    figures: {
      fillMs: round(fillMs),
      messages: Number(messageCount),
      bytes,
      bytesPerMessage: round(bytes / Number(messageCount), 0),
      heavy,
      light,
      empty: emptyReads,
      loadStart,
    },
    targets: [
      {
        name: 'every page p95 (threads, messages, memory)',
        value: fmtMs(pageP95),
        target: `≤ ${TARGETS.page} ms`,
        met: pageP95 <= TARGETS.page,
      },
      {
        name: 'search p95',
        value: fmtMs(searchP95),
        target: `≤ ${TARGETS.search} ms`,
        met: searchP95 <= TARGETS.search,
      },
      {
        name: 'run start (db part) p50 vs empty db',
        value: `×${round(runStartRatio, 2)}`,
        target: `≤ ×${TARGETS.runStartRatio}`,
        met: runStartRatio <= TARGETS.runStartRatio,
      },
      { name: 'database bytes per message', value: round(bytes / Number(messageCount), 0), target: 'reported' },
    ],
  })
}, [() => rmSync(dir, { recursive: true, force: true })])
