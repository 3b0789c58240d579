import { createClient, type Client } from '@libsql/client'
import { drizzle, type LibSQLDatabase } from 'drizzle-orm/libsql'
import { AsyncResource } from 'node:async_hooks'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import * as schema from './schema'
import { applyMigrations, readMigrations } from './migrations'
import { log } from '../log'
import { withStatementCache } from './statement-cache'
import { GroupCommit, type Tx } from './group-commit'
import { PAGE_SIZE } from './page-size'
import { transactionGate } from './transaction-gate'
import { WalCheckpointer, type WalCheckpointerOptions } from './wal-checkpointer'

export type Db = LibSQLDatabase<typeof schema>

/** Longest stretch of back-to-back writes before the queue lets other work in. */
const YIELD_AFTER_MS = 2

interface WriteJob {
  fn: () => Promise<unknown>
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
  started: number
}

/** A FIFO that takes from the front in O(1) (Array.shift copies a long queue each time). */
class Fifo<T> {
  #items: (T | undefined)[] = []
  #head = 0

  push(item: T) {
    this.#items.push(item)
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined
    const item = this.#items[this.#head]
    this.#items[this.#head++] = undefined
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return item
  }
}

/**
 * One async mutex for every write. Local libsql has one writer, and its busy timeout blocks
 * the event loop; queueing writes in-process keeps SQLITE_BUSY away without blocking.
 *
 * Two lanes: `urgent` writes (the group commits of run events, which clients are waiting to
 * see) go before every queued ordinary write, so when 100 runs start at once the first deltas
 * do not wait behind all their run-start writes. A journal has at most one batch in flight,
 * so ordinary writes still get every other turn. Writes of one lane keep their order; callers
 * that need one write before another await the first (as they always did).
 */
class WriteQueue {
  readonly #urgent = new Fifo<WriteJob>()
  readonly #normal = new Fifo<WriteJob>()
  #draining = false
  #pending = 0
  /** Observed by metrics: milliseconds each write waited plus ran. */
  onWrite?: (ms: number) => void

  run<T>(fn: () => Promise<T>, urgent = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#pending++
      // Bound to the caller's async context: the write runs later, from the drain loop.
      ;(urgent ? this.#urgent : this.#normal).push({
        fn: AsyncResource.bind(fn),
        resolve: resolve as (value: unknown) => void,
        reject,
        started: performance.now(),
      })
      if (!this.#draining) void this.#drain()
    })
  }

  async #drain() {
    this.#draining = true
    let slice = performance.now()
    for (let job = this.#next(); job; job = this.#next()) {
      // Local libsql settles its promises at once, so a backlog of writes would run as one
      // unbroken chain of microtasks: no socket is read, no model chunk arrives, no event batch
      // can get in until all are done (100 run starts at once ≈ 300 ms). Yield to the event
      // loop every few milliseconds of writing instead.
      if (performance.now() - slice > YIELD_AFTER_MS) {
        await new Promise((resolve) => setImmediate(resolve))
        slice = performance.now()
      }
      try {
        job.resolve(await job.fn())
      } catch (error) {
        job.reject(error)
      } finally {
        this.#pending--
        this.onWrite?.(performance.now() - job.started)
      }
    }
    this.#draining = false
  }

  #next(): WriteJob | undefined {
    return this.#urgent.shift() ?? this.#normal.shift()
  }

  get pending() {
    return this.#pending
  }
}

export interface Database {
  db: Db
  client: Client
  /**
   * Serialises a write (or a batch of writes) with every other write of this process;
   * `urgent` ones (run-event batches) go ahead of the ordinary writes waiting.
   */
  write<T>(fn: (db: Db) => Promise<T>, opts?: { urgent?: boolean }): Promise<T>
  /**
   * A small write that may share its transaction with others queued at the same time (group
   * commit, src/db/group-commit.ts); its failure is rolled back alone, and it resolves once committed.
   * `fn` must use only `tx`: a call through `db`, `client` or another write would wait for the
   * very transaction it runs in. It may run twice (when another write of its group fails), so it
   * must have no effect outside `tx`. `urgent` ones (run-event writes) form their own groups,
   * which go ahead of the ordinary writes waiting, like `write`'s.
   */
  writeInGroup<T>(fn: (tx: Tx) => Promise<T>, opts?: { urgent?: boolean }): Promise<T>
  /**
   * A long write (a dataset's rows, an import, a large thread's deletion) as one interactive
   * transaction of its own, in its turn of the write queue: all of it is stored or, if `fn`
   * throws, none. Unlike `write`'s batch it may let the event loop in between its statements
   * (src/db/breathe.ts), so requests that need no database are served meanwhile; the connection
   * is the transaction's until it ends, so other statements, reads too, wait for it at the gate.
   * `fn` must use only `tx` (anything else would wait for the transaction itself), and runs once.
   */
  writeInTransaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>
  writes: WriteQueue
  /** Checkpoints the log from a worker thread (a local file only; src/db/wal-checkpointer.ts). */
  checkpointer?: WalCheckpointer
  ping(): Promise<boolean>
  close(): void
}

export interface OpenOptions {
  /** Another migrations folder (tests); default db/migrations, or the embedded copy in the single-file build. */
  migrationsFolder?: string
  /**
   * How much of the file reads may map (SQLite's mmap_size; 0 = none, the default). Mapping saves
   * copying pages out of the OS cache, which a search over a large history touching thousands of
   * pages does (docs/performance.md, "A long history"); mapped pages then count in the process's
   * RSS as file cache.
   */
  mmapBytes?: number
  /** When the WAL checkpoint worker starts and how often it runs (a local file only); `false`: SQLite's own checkpoints. */
  walCheckpoint?: WalCheckpointerOptions | false
}

/**
 * Opens the database and brings its schema up to date. Throws DatabaseTooNewError or
 * MigrationError (src/db/migrations.ts) with the file left as it was.
 */
export async function openDatabase(url: string, authToken?: string, opts: OpenOptions = {}): Promise<Database> {
  const file = url.startsWith('file:') ? url.slice('file:'.length) : undefined
  if (file) mkdirSync(dirname(file), { recursive: true })
  const isLocal = url.startsWith('file:') || url === ':memory:'
  // Locally one connection is enough (SQLite calls are synchronous anyway) and it keeps the
  // per-connection pragmas below in force for every statement.
  // A local client opens its one connection at once; that connection caches its statements.
  const raw = withStatementCache(() =>
    createClient({ url, authToken, ...(isLocal ? { concurrency: 1, timeout: 5000 } : {}) }),
  )
  const gate = transactionGate(raw)
  const client = gate.client
  if (isLocal) {
    // Only a new file takes it (an existing one keeps its own); why 4 KiB: src/db/page-size.ts.
    await client.execute(`PRAGMA page_size = ${PAGE_SIZE}`)
    // WAL lets readers run beside the one writer; busy_timeout covers other processes on the
    // same file (cluster mode), foreign_keys makes the composite keys bite.
    if (url !== ':memory:') await client.execute('PRAGMA journal_mode = WAL')
    await client.execute('PRAGMA busy_timeout = 5000')
    await client.execute('PRAGMA synchronous = NORMAL')
    if (url !== ':memory:' && opts.mmapBytes) await client.execute(`PRAGMA mmap_size = ${Math.floor(opts.mmapBytes)}`)
  }
  await client.execute('PRAGMA foreign_keys = ON')
  const db = drizzle(client, { schema })
  try {
    const applied = await applyMigrations(client, await readMigrations(opts.migrationsFolder))
    if (applied.length > 0) log.info('database migrated', { applied })
  } catch (error) {
    client.close()
    throw error
  }
  // A local file's page size (a remote server keeps its own and is not asked).
  const pageSize = file ? Number(Object.values((await client.execute('PRAGMA page_size')).rows[0])[0]) : undefined
  if (pageSize !== undefined && pageSize !== PAGE_SIZE)
    log.info('this database file has other pages than new ones get; a backup and restore moves it over', {
      pageSize,
      newFilesGet: PAGE_SIZE,
      see: 'docs/operations.md, "Page size"',
    })
  const checkpointer =
    file && pageSize !== undefined && opts.walCheckpoint !== false
      ? await WalCheckpointer.start(
          file,
          pageSize,
          (pages) => client.execute(`PRAGMA wal_autocheckpoint = ${Math.floor(pages)}`),
          opts.walCheckpoint,
        )
      : undefined
  const writes = new WriteQueue()
  // The group commit's transactions hold the connection; everything else waits at the gate.
  const groupDb = drizzle(raw, { schema })
  const group = new GroupCommit(groupDb, (job) => writes.run(() => gate.hold(job)))
  const urgentGroup = new GroupCommit(groupDb, (job) => writes.run(() => gate.hold(job), true))
  return {
    db,
    client,
    writes,
    checkpointer,
    write: (fn, opts) => writes.run(() => fn(db), opts?.urgent),
    writeInGroup: (fn, opts) => (opts?.urgent ? urgentGroup : group).run(fn),
    writeInTransaction: (fn) => writes.run(() => gate.hold(() => groupDb.transaction(fn))),
    async ping() {
      try {
        await client.execute('SELECT 1')
        return true
      } catch {
        return false
      }
    },
    close() {
      checkpointer?.stop()
      client.close()
    },
  }
}
