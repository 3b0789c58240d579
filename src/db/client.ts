import { createClient, type Client } from '@libsql/client'
import { drizzle, type LibSQLDatabase } from 'drizzle-orm/libsql'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import * as schema from './schema'
import { applyMigrations, readMigrations } from './migrations'
import { log } from '../log'

export type Db = LibSQLDatabase<typeof schema>

/**
 * One async mutex for every write. Local libsql has one writer, and its busy timeout blocks
 * the event loop; queueing writes in-process keeps SQLITE_BUSY away without blocking.
 */
class WriteQueue {
  #tail: Promise<unknown> = Promise.resolve()
  #pending = 0
  /** Observed by metrics: milliseconds each write waited plus ran. */
  onWrite?: (ms: number) => void

  run<T>(fn: () => Promise<T>): Promise<T> {
    const started = performance.now()
    this.#pending++
    const result = this.#tail.then(fn)
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    )
    return result.finally(() => {
      this.#pending--
      this.onWrite?.(performance.now() - started)
    })
  }

  get pending() {
    return this.#pending
  }
}

export interface Database {
  db: Db
  client: Client
  /** Serialises a write (or a batch of writes) with every other write of this process. */
  write<T>(fn: (db: Db) => Promise<T>): Promise<T>
  writes: WriteQueue
  ping(): Promise<boolean>
  close(): void
}

export interface OpenOptions {
  /** Another migrations folder (tests); default db/migrations, or the embedded copy in the single-file build. */
  migrationsFolder?: string
}

/**
 * Opens the database and brings its schema up to date. Throws DatabaseTooNewError or
 * MigrationError (src/db/migrations.ts) with the file left as it was.
 */
export async function openDatabase(url: string, authToken?: string, opts: OpenOptions = {}): Promise<Database> {
  if (url.startsWith('file:')) mkdirSync(dirname(url.slice('file:'.length)), { recursive: true })
  const isLocal = url.startsWith('file:') || url === ':memory:'
  // Locally one connection is enough (SQLite calls are synchronous anyway) and it keeps the
  // per-connection pragmas below in force for every statement.
  const client = createClient({ url, authToken, ...(isLocal ? { concurrency: 1, timeout: 5000 } : {}) })
  if (isLocal) {
    // A new file gets 16 KiB pages (an existing one keeps its own): a document search scans one
    // 3 KiB vector per chunk of the user's, and bigger pages keep a document's vectors on a few
    // pages instead of one page plus an overflow page each (docs/performance.md, Documents).
    await client.execute('PRAGMA page_size = 16384')
    // WAL lets readers run beside the one writer; busy_timeout covers other processes on the
    // same file (cluster mode), foreign_keys makes the composite keys bite.
    if (url !== ':memory:') await client.execute('PRAGMA journal_mode = WAL')
    await client.execute('PRAGMA busy_timeout = 5000')
    await client.execute('PRAGMA synchronous = NORMAL')
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
  const writes = new WriteQueue()
  return {
    db,
    client,
    writes,
    write: (fn) => writes.run(() => fn(db)),
    async ping() {
      try {
        await client.execute('SELECT 1')
        return true
      } catch {
        return false
      }
    },
    close: () => client.close(),
  }
}
