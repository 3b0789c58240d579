import { AsyncResource } from 'node:async_hooks'
import type { InStatement, ResultSet } from '@libsql/client'
import type { LibSQLDatabase } from 'drizzle-orm/libsql'
import type * as schema from './schema'

type Db = LibSQLDatabase<typeof schema>

/** A transaction handed to a grouped write (drizzle's: the group's, or a savepoint of it). */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0]

/**
 * Fixed SQL text inside a grouped write, run on the transaction under `tx` as it is: the hot
 * writes (a run's start, its answer) skip drizzle building the same statement for every call,
 * about half of their cost, and their texts stay in the statement cache. drizzle keeps its
 * libsql transaction as `session.tx`; tests/integration/db/group-commit.test.ts checks that
 * what runs here joins the group's transaction (and its savepoint, when the group is run again).
 */
export function sqlIn(tx: Tx): { execute(statement: InStatement): Promise<ResultSet> } {
  const libsqlTx = (tx as unknown as { session?: { tx?: { execute(s: InStatement): Promise<ResultSet> } } }).session?.tx
  if (!libsqlTx) throw new Error('sqlIn: not inside a grouped write')
  return libsqlTx
}

interface Item {
  fn: (tx: Tx) => Promise<unknown>
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

/** Most writes in one transaction: a long one would hold the single writer (and the event loop). */
const MAX_GROUP = 32

/**
 * Group commit for small writes of many callers (run starts, answers, run closes, quota counts).
 * A commit is most of such a write's cost (WAL append, FTS5 segment flush, now and then a
 * checkpoint), so the writes that queue up while the writer is busy share one transaction, and
 * every caller hears back only once the transaction is committed.
 *
 * One caller's failure is rolled back alone and reaches only that caller. Writes rarely fail (a
 * refused quota, a thread deleted meanwhile), so a group first runs straight through; only if a
 * write of it fails is the transaction rolled back and the group run again with a savepoint per
 * write. A savepoint each every time cost about a sixth of a run's writes: FTS5 writes out its
 * pending index at every savepoint, so each write made an index segment of its own. A grouped
 * write may therefore run twice, and must touch nothing but `tx`.
 *
 * One group waits in the write queue at a time; writes arriving meanwhile join it, and when it
 * runs the ones arriving after start the next one.
 */
export class GroupCommit {
  #items: Item[] = []
  #queued = false

  constructor(
    private readonly db: Db,
    private readonly enqueue: (job: () => Promise<void>) => Promise<void>,
  ) {}

  run<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // Bound to the caller's async context (its user): the write runs later, from the queue.
      this.#items.push({
        fn: AsyncResource.bind(fn) as (tx: Tx) => Promise<unknown>,
        resolve: resolve as (v: unknown) => void,
        reject,
      })
      if (!this.#queued) this.#schedule()
    })
  }

  #schedule() {
    this.#queued = true
    // Joins the write queue at the end of this turn of the event loop, so the writes issued in
    // the same turn (a crowd of run starts, the answers of runs ending together) share it.
    setImmediate(() => void this.enqueue(() => this.#commit()))
  }

  async #commit(): Promise<void> {
    const items = this.#items.splice(0, MAX_GROUP)
    this.#queued = false
    if (this.#items.length > 0) this.#schedule()
    if (items.length === 0) return
    const failed = await this.#straight(items)
    if (!failed) return
    // Alone, the write's own failure is the answer; in a group, find out whose it was.
    if (items.length === 1) items[0].reject(failed.error)
    else await this.#eachInSavepoint(items)
  }

  /** The group in one transaction with no savepoints; on any failure nothing is stored. */
  async #straight(items: Item[]): Promise<{ error: unknown } | undefined> {
    const values: unknown[] = []
    try {
      await this.db.transaction(async (tx) => {
        for (const item of items) values.push(await item.fn(tx))
      })
    } catch (error) {
      return { error }
    }
    for (const [i, item] of items.entries()) item.resolve(values[i])
    return undefined
  }

  async #eachInSavepoint(items: Item[]): Promise<void> {
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = []
    try {
      await this.db.transaction(async (tx) => {
        for (const item of items) {
          try {
            outcomes.push({ ok: true, value: await tx.transaction((sp) => item.fn(sp as unknown as Tx)) })
          } catch (error) {
            outcomes.push({ ok: false, error })
          }
        }
      })
    } catch (error) {
      // The commit itself failed: nothing of the group is stored.
      for (const item of items) item.reject(error)
      return
    }
    items.forEach((item, i) => {
      const outcome = outcomes[i]
      if (outcome.ok) item.resolve(outcome.value)
      else item.reject(outcome.error)
    })
  }
}
