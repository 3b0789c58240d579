// libsql: the native driver under @libsql/client.
import LibsqlDatabase from 'libsql'

/**
 * Prepared statements, cached per connection by their SQL text.
 *
 * `@libsql/client` prepares every statement afresh, and under Bun the native side of a prepared
 * statement is never given back: about 2.7 KiB of RSS per `prepare`, for the life of the process
 * (measured in docs/performance.md, "A crowd at once"; upstream: tursodatabase/libsql-js#153).
 * At 15 statements a run that is gigabytes over a busy day. Our SQL comes from drizzle and our
 * repositories with placeholders, so the same few hundred texts repeat; reusing their statements
 * makes that cost a bounded one-off and saves the compile time too.
 *
 * Safe to share: `@libsql/client` uses a statement synchronously from start to end (bind, step
 * to the last row, read), and sets its modes (`raw`, `safeIntegers`) before each use. A schema
 * change (CREATE/ALTER/DROP, or anything through `exec`, as migrations run) empties the
 * connection's cache: a cached `SELECT *` would otherwise keep its old column list. The least
 * recently used text is dropped past `MAX_PER_CONNECTION` (multi-row inserts of varying length
 * make new texts).
 *
 * Opt-in per connection: importing this module changes nothing. `withStatementCache` wraps the
 * opening of a client (src/db/client.ts, `openDatabase`), and the connections that run a statement
 * while it opens — the one a local client opens at once to check the file — cache theirs; every
 * other libsql connection in the process prepares as libsql always does.
 */
const MAX_PER_CONNECTION = 1000

type Statement = object
interface NativeDatabase {
  prepare(sql: string): Statement
  exec(sql: string): unknown
}
/** Statements that change the schema: never cached, and they drop the connection's cache. */
const SCHEMA_CHANGE = /^\s*(create|alter|drop)\b/i
const Database = LibsqlDatabase as unknown as { prototype: NativeDatabase }
/** The connections that cache, each with its statements by SQL text. */
const caches = new WeakMap<object, Map<string, Statement>>()
/** True while `withStatementCache` opens a client: a connection that prepares now enrols. */
let enrolling = false
let hooked = false

/**
 * Runs `open` (which opens a libsql client synchronously, as `createClient` does) so that the
 * connections it opens cache their prepared statements. Safe to call any number of times.
 */
export function withStatementCache<T>(open: () => T): T {
  hookPrototype()
  enrolling = true
  try {
    return open()
  } finally {
    enrolling = false
  }
}

/** Whether a libsql connection caches its statements (for tests). */
export function cachesStatements(connection: object): boolean {
  return caches.has(connection)
}

/** libsql offers no per-connection hook, so its prototype gets one, once, that asks `caches`. */
function hookPrototype(): void {
  if (hooked) return
  hooked = true
  const { prepare, exec } = Database.prototype
  Database.prototype.exec = function execClearingCache(this: NativeDatabase, sql: string) {
    caches.get(this)?.clear()
    return exec.call(this, sql)
  }
  Database.prototype.prepare = function cachedPrepare(this: NativeDatabase, sql: string): Statement {
    if (enrolling && !caches.has(this)) caches.set(this, new Map())
    const cache = caches.get(this)
    if (!cache) return prepare.call(this, sql)
    if (SCHEMA_CHANGE.test(sql)) {
      cache.clear()
      return prepare.call(this, sql)
    }
    const hit = cache.get(sql)
    if (hit) {
      // Most recently used last: a Map keeps insertion order.
      cache.delete(sql)
      cache.set(sql, hit)
      return hit
    }
    const statement = prepare.call(this, sql) as Statement & { columns(): unknown }
    // The client asks a statement's columns twice per execution, and each answer is built
    // natively anew; they are fixed for a cached statement (a schema change empties the cache).
    const columns = statement.columns
    let known: unknown
    statement.columns = function knownColumns(this: unknown) {
      known ??= columns.call(this)
      return known
    }
    cache.set(sql, statement)
    if (cache.size > MAX_PER_CONNECTION) cache.delete(cache.keys().next().value!)
    return statement
  }
}
