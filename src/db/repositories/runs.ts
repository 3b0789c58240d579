import { and, asc, eq, gt, inArray } from 'drizzle-orm'
import type { InStatement } from '@libsql/client'
import type { Database } from '../client'
import { runEvents, runs } from '../schema'
import { iso, newId, ownerId } from '../scope'
import { sqlIn, type Tx } from '../group-commit'
import { THREAD_LEAF } from './messages'
import { NotFoundError } from '../../http/errors'

export type RunStatus = 'running' | 'completed' | 'failed' | 'cancelled'

export interface RunView {
  id: string
  threadId: string
  status: RunStatus
  agent: string
  createdAt: string
  finishedAt?: string
}

type RunRow = typeof runs.$inferSelect

const view = (
  row: Pick<RunRow, 'id' | 'threadId' | 'status' | 'agent' | 'createdAt'> & { finishedAt?: number | null },
): RunView => ({
  id: row.id,
  threadId: row.threadId,
  status: row.status,
  agent: row.agent,
  createdAt: iso(row.createdAt),
  ...(row.finishedAt && { finishedAt: iso(row.finishedAt) }),
})

/** A persisted run event: the wire object as JSON, keyed by (runId, seq). */
export interface StoredEvent {
  runId: string
  seq: number
  userId: string
  type: string
  data: string
  /** The run's `agent_completed`: its row is closed in the same transaction as the event. */
  closesRun?: RunClose
}

/** How a run ended, for its row. */
export interface RunClose {
  status: Exclude<RunStatus, 'running'>
  error?: { code: string; message: string }
  agent?: string
}

// A run start's statements as fixed text (src/db/group-commit.ts, sqlIn).
const INSERT_THREAD = `INSERT INTO threads (id, user_id, title, created_at, updated_at, leaf_id) VALUES (?, ?, ?, ?, ?, ?)`
const INSERT_RUN = `INSERT INTO runs (id, user_id, thread_id, status, agent, model, input, node_id, answer_parent_id, created_at)
  VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)`
const INSERT_USER_MESSAGE = `INSERT INTO messages (id, user_id, thread_id, role, content, run_id, created_at, parent_id)
  VALUES (?, ?, ?, 'user', ?, ?, ?, ?)`
/** Moves the thread to the top; a new message becomes its leaf. */
const TOUCH_THREAD = `UPDATE threads SET updated_at = max(updated_at + 1, ?), leaf_id = coalesce(?, leaf_id)
  WHERE id = ? AND user_id = ?`

const CLOSE_RUN_SQL = `UPDATE runs SET status = ?, finished_at = ?, error_code = ?, error_message = ?, agent = coalesce(?, agent)
  WHERE id = ? AND user_id = ? AND status = 'running'`

/** A run's quota admission was refused inside its start: nothing was written. */
export class AdmissionRefusedError extends Error {
  constructor() {
    super('the quota admission was refused')
  }
}

/** Runs and their event journal, scoped to the active user. */
/** What a new run is given; its owner, status and time are the repository's. */
interface NewRun {
  id: string
  threadId: string
  agent: string
  model: string
  input: string
  nodeId?: string
}

export function runsRepository({ db, write, writeInGroup }: Database) {
  const mine = (id: string) => and(eq(runs.id, id), eq(runs.userId, ownerId()))

  return {
    async create(input: NewRun): Promise<RunView> {
      const row = { ...input, userId: ownerId(), status: 'running' as const, createdAt: Date.now() }
      const [saved] = await write((db) => db.insert(runs).values(row).returning())
      return view(saved)
    },

    /**
     * Starts a run in one transaction: its quota admission (`claim`), a new thread when there is
     * none yet (`newThreadTitle`), the run row, the user's message, and the thread moved to the
     * top. One write instead of three keeps run start (and the event writes queued behind it)
     * fast. A refused claim writes nothing and throws AdmissionRefusedError.
     */
    async start(
      input: Omit<NewRun, 'threadId'> & {
        /** Absent: a new thread, titled `options.newThreadTitle`. */
        threadId?: string
        answerParentId?: string | null
      },
      /**
       * The user message this run answers, stored here; `null` when it exists already (a
       * regenerate). `parentId` undefined: after the thread's leaf as it is at this write, so
       * two sends racing on one thread still make a chain.
       */
      userMessage: { id: string; parentId?: string | null } | null = { id: newId(), parentId: null },
      options: { claim?: (tx: Tx) => Promise<boolean>; newThreadTitle?: string; newThreadId?: string } = {},
    ): Promise<RunView> {
      const userId = ownerId()
      const now = Date.now()
      const threadId = input.threadId ?? options.newThreadId ?? newId()
      const row = { ...input, threadId, userId, status: 'running' as const, createdAt: now }
      const parentOf = async (inTx: ReturnType<typeof sqlIn>) => {
        if (userMessage?.parentId !== undefined) return userMessage.parentId
        const [current] = (await inTx.execute({ sql: THREAD_LEAF, args: [threadId, userId] })).rows
        return (current?.leaf_id as string | null | undefined) ?? null
      }
      const saved = await writeInGroup(async (tx) => {
        if (options.claim && !(await options.claim(tx))) throw new AdmissionRefusedError()
        const inTx = sqlIn(tx)
        if (!input.threadId)
          // A new thread starts with this message as its leaf: no separate touch.
          await inTx.execute({
            sql: INSERT_THREAD,
            args: [threadId, userId, options.newThreadTitle ?? input.input, now, now, userMessage?.id ?? null],
          })
        const parentId = userMessage && input.threadId ? await parentOf(inTx) : (userMessage?.parentId ?? null)
        await inTx.execute({
          sql: INSERT_RUN,
          args: [
            row.id,
            userId,
            threadId,
            row.agent,
            row.model,
            row.input,
            row.nodeId ?? null,
            row.answerParentId ?? null,
            now,
          ],
        })
        if (userMessage)
          await inTx.execute({
            sql: INSERT_USER_MESSAGE,
            args: [userMessage.id, userId, threadId, input.input, row.id, now, parentId],
          })
        if (input.threadId)
          await inTx.execute({ sql: TOUCH_THREAD, args: [now, userMessage?.id ?? null, threadId, userId] })
        return row
      })
      return view(saved)
    },

    async get(id: string): Promise<RunView> {
      const [row] = await db.select().from(runs).where(mine(id))
      if (!row) throw new NotFoundError('run')
      return view(row)
    },

    /** The active user's runs still marked running: those of `threadId`, or all of them. */
    async runningIds(threadId?: string): Promise<string[]> {
      const where = and(
        eq(runs.userId, ownerId()),
        eq(runs.status, 'running'),
        threadId === undefined ? undefined : eq(runs.threadId, threadId),
      )
      return (await db.select({ id: runs.id }).from(runs).where(where)).map((r) => r.id)
    },

    async find(id: string): Promise<RunView | undefined> {
      const [row] = await db.select().from(runs).where(mine(id))
      return row && view(row)
    },

    async finish(
      id: string,
      status: Exclude<RunStatus, 'running'>,
      error?: { code: string; message: string },
      agent?: string,
    ): Promise<void> {
      const where = and(mine(id), eq(runs.status, 'running'))
      await writeInGroup((tx) =>
        tx
          .update(runs)
          .set({
            status,
            finishedAt: Date.now(),
            errorCode: error?.code,
            errorMessage: error?.message,
            ...(agent && { agent }),
          })
          .where(where),
      )
    },

    /** The stored events after `afterSeq`, in order; at most `limit` of them when given (a page). */
    async eventsAfter(runId: string, afterSeq: number, limit?: number): Promise<string[]> {
      const query = db
        .select({ data: runEvents.data })
        .from(runEvents)
        .where(and(eq(runEvents.userId, ownerId()), eq(runEvents.runId, runId), gt(runEvents.seq, afterSeq)))
        .orderBy(asc(runEvents.seq))
      const rows = limit === undefined ? await query : await query.limit(limit)
      return rows.map((r) => r.data)
    },
  }
}

/** Rows per multi-row insert, largest first: any batch is a few statements of four fixed texts. */
const EVENT_INSERT_SIZES = [64, 16, 4, 1]
const eventInsertSql = new Map(
  EVENT_INSERT_SIZES.map((n) => [
    n,
    `INSERT INTO run_events (run_id, seq, user_id, type, data) VALUES ${Array.from({ length: n }, () => '(?, ?, ?, ?, ?)').join(', ')} ON CONFLICT DO NOTHING`,
  ]),
)

/**
 * The inserts of one batch of events, written in one transaction. Plain SQL of four fixed
 * texts, not a query built per batch: the journal is the hottest write, and fixed texts stay in
 * the prepared-statement cache (src/db/statement-cache.ts). `created_at` takes its default.
 */
function eventInserts(events: StoredEvent[]): InStatement[] {
  const statements: InStatement[] = []
  let i = 0
  for (const size of EVENT_INSERT_SIZES) {
    for (; events.length - i >= size; i += size) {
      const args: (string | number)[] = []
      for (const e of events.slice(i, i + size)) args.push(e.runId, e.seq, e.userId, e.type, e.data)
      statements.push({ sql: eventInsertSql.get(size)!, args })
    }
  }
  for (const e of events) {
    if (!e.closesRun) continue
    const { status, error, agent } = e.closesRun
    statements.push({
      sql: CLOSE_RUN_SQL,
      args: [status, Date.now(), error?.code ?? null, error?.message ?? null, agent ?? null, e.runId, e.userId],
    })
  }
  return statements
}

/**
 * Journal writes happen off the request path in batches, for many users at once, so they
 * carry their owner explicitly; each row's composite key still ties it to its own run.
 */
export function runJournalStore({ db, client, write, writeInGroup }: Database) {
  return {
    /** The batch in one transaction: all of it is stored, or (it throws) none. */
    async appendBatch(events: StoredEvent[]): Promise<void> {
      if (events.length === 0) return
      // Urgent: clients wait for these (each event is published once stored).
      await write(() => client.batch(eventInserts(events), 'write'), { urgent: true })
    },

    /**
     * Each run's events as a grouped write of its own (src/db/group-commit.ts, the urgent lane):
     * they share a transaction, and when one run's rows fail, the group runs again with a
     * savepoint per run, so that failure is rolled back alone. Resolves with each run's failure
     * (`undefined`: stored), in the order given.
     */
    async appendEach(runs: StoredEvent[][]): Promise<unknown[]> {
      const outcomes = await Promise.allSettled(
        runs.map((events) =>
          writeInGroup(
            async (tx) => {
              for (const statement of eventInserts(events)) await sqlIn(tx).execute(statement)
            },
            { urgent: true },
          ),
        ),
      )
      return outcomes.map((o) => (o.status === 'rejected' ? o.reason : undefined))
    },

    /**
     * Which of these runs no longer exist (deleted with their thread or their account): their
     * events can never be stored. Each is named with its owner, as its events carry it.
     */
    async missingRuns(wanted: { runId: string; userId: string }[]): Promise<Set<string>> {
      if (wanted.length === 0) return new Set()
      const found = await db
        .select({ id: runs.id, userId: runs.userId })
        .from(runs)
        .where(
          inArray(
            runs.id,
            wanted.map((w) => w.runId),
          ),
        )
      const present = new Set(found.map((r) => `${r.id}\n${r.userId}`))
      return new Set(wanted.filter((w) => !present.has(`${w.runId}\n${w.userId}`)).map((w) => w.runId))
    },

    /** Runs left `running` (by a crash, or by a dead process in cluster mode). */
    async listRunning(nodeIds?: string[]) {
      const where = nodeIds
        ? and(eq(runs.status, 'running'), inArray(runs.nodeId, nodeIds))
        : eq(runs.status, 'running')
      return db.select().from(runs).where(where)
    },

    /**
     * Takes a run over for resuming: counts the attempt and records this process as its runner,
     * only if nobody did since it was read (`attempts`). False when another process was first.
     */
    async claimResume(runId: string, attempts: number, nodeId?: string): Promise<boolean> {
      const claimed = await write((db) =>
        db
          .update(runs)
          .set({ resumeAttempts: attempts + 1, nodeId: nodeId ?? null })
          .where(and(eq(runs.id, runId), eq(runs.status, 'running'), eq(runs.resumeAttempts, attempts)))
          .returning({ id: runs.id }),
      )
      return claimed.length > 0
    },

    /** Processes that have runs marked running (cluster liveness checks these). */
    async runningNodeIds(): Promise<string[]> {
      const rows = await db.selectDistinct({ nodeId: runs.nodeId }).from(runs).where(eq(runs.status, 'running'))
      return rows.flatMap((r) => (r.nodeId ? [r.nodeId] : []))
    },

    async lastSeq(runId: string): Promise<number> {
      const rows = await db.select({ seq: runEvents.seq }).from(runEvents).where(eq(runEvents.runId, runId))
      return rows.reduce((max, r) => Math.max(max, r.seq), 0)
    },
  }
}

export type RunsRepository = ReturnType<typeof runsRepository>
export type RunJournalStore = ReturnType<typeof runJournalStore>
