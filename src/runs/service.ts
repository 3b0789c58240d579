import type { Message } from 'ollama'
import { createUserContext, currentContext, runWithoutUser, type UserContext } from '../context/user-context'
import type { MessagesRepository } from '../db/repositories/messages'
import type { RunJournalStore, RunsRepository } from '../db/repositories/runs'
import type { ThreadsRepository } from '../db/repositories/threads'
import { newId } from '../db/scope'
import { AppError, NotFoundError } from '../http/errors'
import { log } from '../log'
import { getAgent } from '../agents/definitions'
import { RunStop, runAgent, type RunOutcome, type RunnerDeps } from '../agents/runner'
import type { RunEvent } from './events'
import { EventPersister, RunJournal, type EventPublisher, type JournalEntry } from './journal'

export interface StartRunInput {
  content: string
  threadId?: string
  agent?: string
  model?: string
  requestId?: string
}

export interface ActiveRun {
  journal: RunJournal
  context: UserContext
  controller: AbortController
  done: Promise<void>
}

/** Holds each user's concurrent runs against the cap; cluster mode swaps in a shared one. */
export interface RunLimiter {
  tryAcquire(userId: string, max: number, runId: string): Promise<boolean>
  release(userId: string, runId: string): Promise<void>
}

export function memoryRunLimiter(): RunLimiter & { count(userId: string): number } {
  const running = new Map<string, Set<string>>()
  return {
    async tryAcquire(userId, max, runId) {
      const set = running.get(userId) ?? new Set()
      if (set.size >= max) return false
      set.add(runId)
      running.set(userId, set)
      return true
    },
    async release(userId, runId) {
      const set = running.get(userId)
      set?.delete(runId)
      if (set?.size === 0) running.delete(userId) // nothing per user outlives their last run
    },
    count: (userId) => running.get(userId)?.size ?? 0,
  }
}

export interface RunManagerDeps {
  runs: RunsRepository
  journalStore: RunJournalStore
  threads: ThreadsRepository
  messages: MessagesRepository
  publisher: EventPublisher
  runner: RunnerDeps
  limiter: RunLimiter
  defaultModel: string
  maxRunsPerUser: number
  runTimeoutMs: number
  /** How long a finished run's journal stays in memory for resumes before the database serves them. */
  journalGraceMs?: number
  /** Characters of earlier conversation sent with each run. */
  historyBudgetChars?: number
  nodeId?: string
  /** Cluster mode: asks the process running `runId` to cancel it. */
  remoteCancel?: (runId: string) => Promise<void>
  /** Observers (metrics, alerts). */
  onRunFinished?: (outcome: RunOutcome, run: { runId: string; userId: string; durationMs: number; firstTokenMs?: number }) => void
}

const titleFrom = (text: string) => {
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length <= 60 ? line || 'New chat' : `${line.slice(0, 57).replace(/\s+\S*$/, '')}…`
}

/**
 * Starts, cancels, replays and closes runs. A run executes in its own user context (not the
 * connection's: it outlives the socket), owns a journal, and always ends with exactly one
 * `agent_completed`, emitted from a `finally`.
 */
export class RunManager {
  readonly active = new Map<string, ActiveRun>()
  /** Journals of finished runs, kept a while so resumes are served from memory. */
  readonly #recent = new Map<string, { journal: RunJournal; timer: ReturnType<typeof setTimeout> }>()
  readonly persister: EventPersister
  #accepting = true

  constructor(private readonly deps: RunManagerDeps) {
    this.persister = new EventPersister(deps.journalStore)
  }

  get accepting() {
    return this.#accepting
  }

  /** Journals held in memory: running runs plus finished ones within their grace period. */
  get journalsInMemory() {
    return this.active.size + this.#recent.size
  }

  /** Starts a run for the active user; resolves once it is accepted (its events follow). */
  async start(input: StartRunInput, onAccepted?: (run: { runId: string; threadId: string }) => void): Promise<{ runId: string; threadId: string; done: Promise<void> }> {
    if (!this.#accepting) throw new AppError(503, 'server_shutting_down', 'the server is shutting down; try again in a moment')
    const caller = currentContext()
    const agentId = input.agent ?? 'triage'
    const agent = getAgent(agentId)
    if (!agent) throw new AppError(400, 'unknown_agent', `there is no agent "${agentId}"`)
    const content = input.content.trim()
    if (!content) throw new AppError(400, 'invalid_input', 'content must not be empty')
    if (input.threadId && !(await this.deps.threads.exists(input.threadId))) throw new NotFoundError('thread')

    const runId = newId()
    if (!(await this.deps.limiter.tryAcquire(caller.userId, this.deps.maxRunsPerUser, runId))) {
      throw new AppError(429, 'too_many_runs', `you already have ${this.deps.maxRunsPerUser} runs in progress; wait for one to finish or cancel it`)
    }
    try {
      const threadId = input.threadId ?? (await this.deps.threads.create(titleFrom(content))).id
      const history = input.threadId ? await this.#history(threadId) : []
      const model = input.model || this.deps.defaultModel
      await this.deps.runs.start({ id: runId, threadId, agent: agent.id, model, input: content, nodeId: this.deps.nodeId })

      const controller = new AbortController()
      const context = createUserContext({
        userId: caller.userId,
        role: caller.role,
        runId,
        requestId: input.requestId,
        metadata: { threadId, model },
        signal: controller.signal,
      })
      const journal = new RunJournal(runId, caller.userId, threadId, agent.id, this.persister, this.deps.publisher)
      const active: ActiveRun = { journal, context, controller, done: Promise.resolve() }
      this.active.set(runId, active)
      // Told before the run's first event, so a client sees run_accepted ahead of agent_started.
      onAccepted?.({ runId, threadId })
      // Detached from the caller's context: the run must not end with the socket or request.
      active.done = runWithoutUser(() => context.run(() => this.#execute(active, model, [...history, { role: 'user', content }])))
      return { runId, threadId, done: active.done }
    } catch (error) {
      await this.deps.limiter.release(caller.userId, runId)
      throw error
    }
  }

  async #history(threadId: string): Promise<Message[]> {
    const budget = this.deps.historyBudgetChars ?? 12_000
    const recent = await this.deps.messages.recent(threadId, 50)
    const kept: Message[] = []
    let used = 0
    for (const m of recent.reverse()) {
      if (m.role === 'system') continue
      used += m.content.length
      if (used > budget && kept.length > 0) break
      kept.unshift({ role: m.role, content: m.content })
    }
    return kept
  }

  async #execute(run: ActiveRun, model: string, conversation: Message[]): Promise<void> {
    const { journal, context } = run
    const timeout = setTimeout(() => run.controller.abort(new RunStop('timeout')), this.deps.runTimeoutMs)
    let outcome: RunOutcome = { status: 'failed', content: '', agent: journal.agent, error: { code: 'internal_error', message: 'the run failed unexpectedly' }, usage: { promptTokens: 0, completionTokens: 0, steps: 0 } }
    try {
      outcome = await runAgent({ journal, context, model, agent: journal.agent, conversation }, this.deps.runner)
    } catch (error) {
      log.error('run crashed', { error: String(error) })
    } finally {
      clearTimeout(timeout)
      await this.#complete(run, outcome)
      this.active.delete(journal.runId)
      await this.deps.limiter.release(context.userId, journal.runId).catch((error) => log.error('could not release the run slot', { error: String(error) }))
      await context.dispose().catch(() => {})
      this.#keepRecent(journal)
      this.deps.onRunFinished?.(outcome, {
        runId: journal.runId,
        userId: context.userId,
        durationMs: performance.now() - journal.createdAt,
        firstTokenMs: journal.firstDeltaAt && journal.firstDeltaAt - journal.createdAt,
      })
    }
  }

  /** Stores the answer, emits the one `agent_completed`, persists the journal, closes the row. */
  async #complete(run: ActiveRun, outcome: RunOutcome) {
    const { journal } = run
    let content = outcome.content
    if (!content && outcome.error) content = `⚠️ ${outcome.error.message}`
    let messageId = newId()
    try {
      const saved = await this.deps.messages.add({ id: messageId, threadId: journal.threadId, role: 'assistant', content, agent: outcome.agent, runId: journal.runId, citations: outcome.citations })
      messageId = saved.id
    } catch (error) {
      log.error('could not store the answer', { error: String(error) })
    }
    journal.append({
      type: 'agent_completed',
      status: outcome.status,
      message: { id: messageId, content, ...(outcome.citations && { citations: outcome.citations }) },
      ...(outcome.error && { error: outcome.error }),
      usage: outcome.usage,
    })
    await this.persister.flush()
    await this.deps.runs.finish(journal.runId, outcome.status, outcome.error, outcome.agent).catch((error) => log.error('could not close the run', { error: String(error) }))
    await this.deps.threads.touch(journal.threadId).catch(() => {})
  }

  #keepRecent(journal: RunJournal) {
    const timer = setTimeout(() => this.#recent.delete(journal.runId), this.deps.journalGraceMs ?? 60_000)
    timer.unref?.()
    this.#recent.set(journal.runId, { journal, timer })
  }

  #journal(runId: string): RunJournal | undefined {
    return this.active.get(runId)?.journal ?? this.#recent.get(runId)?.journal
  }

  /** Cancels a run of the active user; another user's run is not found. */
  async cancel(runId: string): Promise<void> {
    const userId = currentContext().userId
    const active = this.active.get(runId)
    if (!active || active.context.userId !== userId) {
      const run = await this.deps.runs.get(runId) // 404 when foreign or unknown
      // Running on another process (cluster mode): that process stops it.
      if (run.status === 'running' && this.deps.remoteCancel) await this.deps.remoteCancel(runId)
      return
    }
    active.controller.abort(new RunStop('cancelled'))
  }

  /** The active user's run events after `afterSeq`, from memory when the run is recent. */
  async eventsAfter(runId: string, afterSeq: number): Promise<{ entries: JournalEntry[]; done: boolean }> {
    const userId = currentContext().userId
    const journal = this.#journal(runId)
    if (journal && journal.userId === userId) return { entries: journal.since(afterSeq), done: journal.completed }
    const run = await this.deps.runs.get(runId)
    const rows = await this.deps.runs.eventsAfter(runId, afterSeq)
    const entries = rows.map((wire) => ({ event: JSON.parse(wire) as RunEvent, wire }))
    return { entries, done: run.status !== 'running' && entries.at(-1)?.event.type === 'agent_completed' ? true : run.status !== 'running' }
  }

  /**
   * Closes runs a crash left `running`: each gets its `agent_completed` (failed) so every
   * journal ends properly. Called on start, before accepting; in cluster mode by the liveness
   * sweeper for a dead process's runs (`nodeIds`), where `republishTail` first publishes again
   * up to that many of the run's last stored events: the dead process may have stored them and
   * died before publishing them, and connections drop the ones they already have (by seq).
   * `createdBefore` (ms) leaves runs created since alone.
   */
  async recoverInterrupted(
    code = 'server_restart',
    message = 'the server restarted while this run was in progress',
    nodeIds?: string[],
    opts: { createdBefore?: number; republishTail?: number } = {},
  ): Promise<number> {
    const stale = (await this.deps.journalStore.listRunning(nodeIds)).filter((row) => !this.active.has(row.id) && (opts.createdBefore === undefined || row.createdAt < opts.createdBefore))
    for (const row of stale) {
      const context = createUserContext({ userId: row.userId, role: 'user', runId: row.id })
      await context.run(async () => {
        let lastSeq = await this.deps.journalStore.lastSeq(row.id)
        if (opts.republishTail && lastSeq > 0) {
          for (const wire of await this.deps.runs.eventsAfter(row.id, Math.max(0, lastSeq - opts.republishTail))) {
            const event = JSON.parse(wire) as RunEvent
            lastSeq = Math.max(lastSeq, event.seq)
            this.deps.publisher.publish(row.userId, { event, wire })
          }
        }
        const journal = new RunJournal(row.id, row.userId, row.threadId, row.agent, this.persister, this.deps.publisher, lastSeq)
        if (lastSeq === 0) journal.append({ type: 'agent_started', input: row.input })
        const error = { code, message }
        const content = `⚠️ ${message}`
        const saved = await this.deps.messages.add({ threadId: row.threadId, role: 'assistant', content, agent: row.agent, runId: row.id })
        journal.append({ type: 'agent_completed', status: 'failed', message: { id: saved.id, content }, error })
        await this.persister.flush()
        await this.deps.runs.finish(row.id, 'failed', error)
        await this.deps.limiter.release(row.userId, row.id).catch(() => {})
      })
      await context.dispose()
    }
    return stale.length
  }

  /** Refuses new runs, gives in-flight ones `graceMs`, then cancels them (with their events). */
  async shutdown(graceMs: number): Promise<void> {
    this.#accepting = false
    const all = () => Promise.all([...this.active.values()].map((r) => r.done))
    if (this.active.size > 0 && graceMs > 0) await Promise.race([all(), Bun.sleep(graceMs)])
    for (const run of this.active.values()) run.controller.abort(new RunStop('shutdown'))
    await all()
    await this.persister.flush()
    for (const { timer } of this.#recent.values()) clearTimeout(timer)
    this.#recent.clear()
  }

  /** Stops a run from outside any user context (cluster cancel, node loss). */
  abort(runId: string, stop: RunStop): boolean {
    const active = this.active.get(runId)
    if (!active) return false
    active.controller.abort(stop)
    return true
  }
}
