import { and, asc, desc, eq, gt, gte, lte, sql } from 'drizzle-orm'
import type { Database } from '../client'
import { sqlIn, type Tx } from '../group-commit'
import { usageDaily, usageEvents } from '../schema'
import { ownerId } from '../scope'

export const DAY_MS = 24 * 60 * 60 * 1000
export const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10)

export interface UsageRow {
  userId: string
  day: string
  model: string
  runs: number
  promptTokens: number
  completionTokens: number
}

export interface WindowEvent {
  at: number
  tokens: number
}

export interface AdmissionInput {
  userId: string
  runId: string
  model: string
  at: number
  /** The server's limits (0 = none); a user's own limit, when an admin set one, wins. */
  runsPerDay: number
  tokensPerDay: number
}

// The per-run statements as fixed text (src/db/group-commit.ts, sqlIn).
/** Counts the run if the user is under both limits: theirs (users.quota_*) or else the server's. */
const ADMIT = `WITH own AS (SELECT quota_runs_per_day AS runs, quota_tokens_per_day AS tokens FROM users WHERE id = ?2),
    lim AS (SELECT coalesce((SELECT runs FROM own), ?6) AS runs, coalesce((SELECT tokens FROM own), ?7) AS tokens)
  INSERT INTO usage_events (run_id, user_id, model, day, at)
  SELECT ?1, ?2, ?3, ?4, ?5 FROM lim
  WHERE (lim.runs = 0 OR (SELECT count(*) FROM usage_events WHERE user_id = ?2 AND at > ?8) < lim.runs)
    AND (lim.tokens = 0 OR (SELECT coalesce(sum(prompt_tokens + completion_tokens), 0) FROM usage_events WHERE user_id = ?2 AND at > ?8) < lim.tokens)`
const COUNT_DAY = `INSERT INTO usage_daily (user_id, day, model, runs, prompt_tokens, completion_tokens) VALUES (?, ?, ?, 1, 0, 0)
  ON CONFLICT (user_id, day, model) DO UPDATE SET runs = runs + 1`
const SETTLE_DAY = `UPDATE usage_daily SET prompt_tokens = prompt_tokens + ?, completion_tokens = completion_tokens + ?
  WHERE (user_id, day, model) = (SELECT user_id, day, model FROM usage_events WHERE run_id = ?)`
const SETTLE_RUN = 'UPDATE usage_events SET prompt_tokens = ?, completion_tokens = ? WHERE run_id = ?'
const DROP_OLD =
  'DELETE FROM usage_events WHERE user_id = (SELECT user_id FROM usage_events WHERE run_id = ?) AND at < ?'

/**
 * Counts a run if the user is under both limits (0 = none), inside `tx`; false when refused
 * (nothing written). The user's own limits are read in the same statement, so a run start
 * reads nothing before its write. Run starts call it inside their own write, so admission and
 * start are one transaction.
 */
export async function admitIn(tx: Tx, input: AdmissionInput): Promise<boolean> {
  const { userId, runId, model, at, runsPerDay, tokensPerDay } = input
  const since = at - DAY_MS
  const day = utcDay(at)
  const inTx = sqlIn(tx)
  const inserted = await inTx.execute({
    sql: ADMIT,
    args: [runId, userId, model, day, at, runsPerDay, tokensPerDay, since],
  })
  if (inserted.rowsAffected !== 1) return false
  await inTx.execute({ sql: COUNT_DAY, args: [userId, day, model] })
  return true
}

/**
 * Usage counting. `usage_events` holds one row per admitted run (the rolling quota window);
 * `usage_daily` the per-day rollup the reports page through. Admission is one conditional
 * INSERT, atomic in SQLite, so processes sharing the database (cluster mode, the CLI) can't
 * both slip past a limit.
 */
export function usageRepository({ db, writeInGroup }: Database) {
  return {
    /** Counts a run if the user is under both limits (0 = none); false when refused. */
    admit: (input: AdmissionInput): Promise<boolean> => writeInGroup((tx) => admitIn(tx, input)),

    /** Takes back an admission whose run never started. */
    async cancel(runId: string): Promise<void> {
      await writeInGroup(async (tx) => {
        await tx.run(sql`UPDATE usage_daily SET runs = max(runs - 1, 0)
            WHERE (user_id, day, model) = (SELECT user_id, day, model FROM usage_events WHERE run_id = ${runId})`)
        await tx.delete(usageEvents).where(eq(usageEvents.runId, runId))
      })
    },

    /** Adds a finished run's tokens to its window row and its day; drops window rows past any use. */
    async settle(runId: string, promptTokens: number, completionTokens: number): Promise<void> {
      await writeInGroup(async (tx) => {
        const inTx = sqlIn(tx)
        await inTx.execute({ sql: SETTLE_DAY, args: [promptTokens, completionTokens, runId] })
        await inTx.execute({ sql: SETTLE_RUN, args: [promptTokens, completionTokens, runId] })
        await inTx.execute({ sql: DROP_OLD, args: [runId, Date.now() - 2 * DAY_MS] })
      })
    },

    /** The user's counted runs in the window, oldest first. */
    async window(userId: string, since: number): Promise<WindowEvent[]> {
      return db
        .select({
          at: usageEvents.at,
          tokens: sql<number>`${usageEvents.promptTokens} + ${usageEvents.completionTokens}`,
        })
        .from(usageEvents)
        .where(and(eq(usageEvents.userId, userId), gt(usageEvents.at, since)))
        .orderBy(asc(usageEvents.at))
    },

    /** The active user's own days (scoped). */
    async mine(from: string, to: string): Promise<UsageRow[]> {
      return db
        .select()
        .from(usageDaily)
        .where(and(eq(usageDaily.userId, ownerId()), gte(usageDaily.day, from), lte(usageDaily.day, to)))
        .orderBy(asc(usageDaily.day), asc(usageDaily.model))
    },

    /** Everyone's days for admins, newest first, keyset-paged on (day, user, model). */
    async all(opts: {
      from: string
      to: string
      userId?: string
      limit: number
      after?: [string, string, string]
    }): Promise<UsageRow[]> {
      const after =
        opts.after &&
        sql`(${usageDaily.day}, ${usageDaily.userId}, ${usageDaily.model}) < (${opts.after[0]}, ${opts.after[1]}, ${opts.after[2]})`
      return db
        .select()
        .from(usageDaily)
        .where(
          and(
            gte(usageDaily.day, opts.from),
            lte(usageDaily.day, opts.to),
            opts.userId ? eq(usageDaily.userId, opts.userId) : undefined,
            after,
          ),
        )
        .orderBy(desc(usageDaily.day), desc(usageDaily.userId), desc(usageDaily.model))
        .limit(opts.limit)
    },
  }
}

export type UsageRepository = ReturnType<typeof usageRepository>
