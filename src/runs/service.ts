import type { Message } from 'ollama'
import { createUserContext, currentContext, runWithoutUser, type UserContext } from '../context/user-context'
import type { MessagesRepository } from '../db/repositories/messages'
import { AdmissionRefusedError, type RunJournalStore, type RunsRepository } from '../db/repositories/runs'
import type { ThreadsRepository } from '../db/repositories/threads'
import { newId } from '../db/scope'
import { AppError, NotFoundError } from '../http/errors'
import { log } from '../log'
import { getAgent } from '../agents/definitions'
import { runAgent, type RunnerDeps } from '../agents/runner'
import { RunStop, outcomeAfterStop, type RunOutcome } from './outcome'
import { replayRun, type RunState } from '../agents/replay'
import type { ModelOptions } from '../llm/provider'
import type { RunEvent } from './events'
import { ERROR_CODES } from '../protocol'
import type { QuotaGate } from '../usage/quota'
import { EventPersister, RunJournal, type DeliverBatch, type EventPublisher, type JournalEntry } from './journal'

export interface StartRunInput {
  content: string
  threadId?: string
  agent?: string
  model?: string
  requestId?: string
  /**
   * The conversation before `content`, given by the caller instead of the thread's (the
   * OpenAI-compatible API: its clients send the whole conversation with every call).
   */
  history?: Message[]
  /** Title of the new thread (default: from `content`). */
  title?: string
  /** Sampling options for the run's model calls. */
  options?: ModelOptions
  /** The message the new user message follows: absent = the thread's current leaf, null = a new root (PROTOCOL.md §6). */
  parentId?: string | null
  /** Regenerate: answer again the user message that this message (an answer, or the user message itself) belongs to. */
  regenerate?: string
}

export interface ActiveRun {
  journal: RunJournal
  context: UserContext
  controller: AbortController
  done: Promise<void>
  /** Resolves with the run's outcome before its `agent_completed` is published. */
  outcome: Promise<RunOutcome>
  settle: (outcome: RunOutcome) => void
  /** The user message the answer hangs under (the message tree of PROTOCOL.md §6). */
  answerParentId: string | null
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
  /** How a stored batch of events is delivered (the WebSocket registry's corked writes); default: one by one. */
  deliverBatch?: DeliverBatch
  runner: RunnerDeps
  limiter: RunLimiter
  /** Rolling-24 h quotas (src/usage/quota.ts); absent = none. */
  quota?: QuotaGate
  defaultModel: string
  maxRunsPerUser: number
  runTimeoutMs: number
  /** How long a finished run's journal stays in memory for resumes before the database serves them. */
  journalGraceMs?: number
  /** Characters of earlier conversation sent with each run. */
  historyBudgetChars?: number
  /** Times a run is continued after its process died before it is failed instead (RUN_RESUME_MAX_ATTEMPTS). */
  maxResumeAttempts?: number
  nodeId?: string
  /** Cluster mode: asks the process running `runId` to cancel it. */
  remoteCancel?: (runId: string) => Promise<void>
  /** Observers (metrics, alerts). */
  onRunResumed?: (run: { runId: string; userId: string }) => void
  onRunFinished?: (
    outcome: RunOutcome,
    run: { runId: string; userId: string; durationMs: number; firstTokenMs?: number },
  ) => void
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
    this.persister = new EventPersister(deps.journalStore, {
      deliverBatch: deps.deliverBatch,
      // Its thread or account was deleted under it (a stop that raced the deletion, or missed
      // it): it stops here rather than answer on into nowhere.
      onRunGone: (runId) => this.abort(runId, new RunStop('cancelled')),
    })
  }

  get accepting() {
    return this.#accepting
  }

  /** Journals held in memory: running runs plus finished ones within their grace period. */
  get journalsInMemory() {
    return this.active.size + this.#recent.size
  }

  /** Starts a run for the active user; resolves once it is accepted (its events follow). */
  async start(
    input: StartRunInput,
    onAccepted?: (run: { runId: string; threadId: string }) => void,
  ): Promise<{ runId: string; threadId: string; done: Promise<void>; outcome: Promise<RunOutcome> }> {
    if (!this.#accepting)
      throw new AppError(503, 'server_shutting_down', 'the server is shutting down; try again in a moment')
    const caller = currentContext()
    const agentId = input.agent ?? 'triage'
    const agent = getAgent(agentId)
    if (!agent) throw new AppError(400, 'unknown_agent', `there is no agent "${agentId}"`)
    const turn = await this.#turn(input)
    const content = turn.content

    const runId = newId()
    if (!(await this.deps.limiter.tryAcquire(caller.userId, this.deps.maxRunsPerUser, runId))) {
      throw new AppError(
        429,
        'too_many_runs',
        `you already have ${this.deps.maxRunsPerUser} runs in progress; wait for one to finish or cancel it`,
      )
    }
    const model = input.model || this.deps.defaultModel
    let admitted = false
    try {
      const admission = await this.deps.quota?.admission(caller.userId, { runId, model })
      // A history leaf always comes with its thread (a new thread has no history).
      const history =
        input.history ?? (turn.threadId && turn.historyLeaf ? await this.#history(turn.threadId, turn.historyLeaf) : [])
      const answerParentId = turn.userMessage?.id ?? turn.answerParentId
      const threadId = turn.threadId ?? newId()

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
      const { promise: outcome, resolve: settle } = Promise.withResolvers<RunOutcome>()
      const active: ActiveRun = {
        journal,
        context,
        controller,
        done: Promise.resolve(),
        outcome,
        settle,
        answerParentId,
      }
      // The run begins (its model call above all) while its start is being written, so the
      // model's time to first token overlaps the write: in a crowd the writes queue up, and
      // each run would otherwise ask the model only after its own commit. Until then its
      // events are held in the journal and no tool acts (journal.hold, RunJournal.durable); if
      // the write fails, the run is stopped and leaves nothing behind. Only while the model has
      // a free slot: a run that would wait in the model's queue anyway gains nothing by
      // starting early, and a flood of them would all sit in memory at once.
      const early = !this.#modelQueued(model)
      journal.hold()
      const begin = () => {
        // Detached from the caller's context: the run must not end with the socket or request.
        active.done = runWithoutUser(() =>
          context.run(() =>
            this.#execute(active, model, [...history, { role: 'user', content }], { options: input.options }),
          ),
        )
      }
      if (early) begin()
      // One write: the quota count first (a refused run leaves no thread, message or run
      // behind), then a new thread if needed, the run and the user's message.
      try {
        await this.deps.runs.start(
          {
            id: runId,
            threadId: turn.threadId,
            agent: agent.id,
            model,
            input: content,
            nodeId: this.deps.nodeId,
            answerParentId,
          },
          turn.userMessage,
          { claim: admission?.claim, newThreadTitle: titleFrom(input.title ?? content), newThreadId: threadId },
        )
      } catch (error) {
        const refused = error instanceof AdmissionRefusedError && admission ? await admission.refusal() : error
        journal.discard(refused instanceof Error ? refused : new Error(String(refused)))
        controller.abort(new RunStop('not_started'))
        if (early) await active.done.catch(() => {})
        else await context.dispose().catch(() => {})
        throw refused
      }
      admitted = true
      this.active.set(runId, active)
      // Told before the run's first event, so a client sees run_accepted ahead of agent_started.
      onAccepted?.({ runId, threadId })
      journal.open()
      if (!early) begin()
      return { runId, threadId, done: active.done, outcome }
    } catch (error) {
      await this.deps.limiter.release(caller.userId, runId)
      if (admitted) await this.deps.quota?.cancel(runId)
      throw error
    }
  }

  /** Whether requests already wait in the model's queue (no free slot). */
  #modelQueued(model: string): boolean {
    return (this.deps.runner.llm.depths?.()[model] ?? 0) > 0
  }

  /**
   * Where a new turn goes in the message tree: a new user message after `parentId` (or the
   * thread's leaf), or, for a regenerate, a new answer to an existing user message.
   */
  async #turn(input: StartRunInput): Promise<{
    content: string
    threadId?: string
    userMessage: { id: string; parentId?: string | null } | null
    answerParentId: string | null
    historyLeaf: string | null
  }> {
    if (input.regenerate) {
      const target = await this.deps.messages.get(input.regenerate) // 404 when foreign or unknown
      const question =
        target.role === 'user' ? target : target.parentId ? await this.deps.messages.get(target.parentId) : undefined
      if (question?.role !== 'user')
        throw new AppError(
          400,
          'invalid_input',
          'this message does not answer a user message, so it cannot be regenerated',
        )
      return {
        content: question.content,
        threadId: target.threadId,
        userMessage: null,
        answerParentId: question.id,
        historyLeaf: question.parentId,
      }
    }
    const content = input.content.trim()
    if (!content) throw new AppError(400, 'invalid_input', 'content must not be empty')
    const threadId = input.threadId
    if (threadId && !(await this.deps.threads.exists(threadId))) throw new NotFoundError('thread')
    if (input.parentId) {
      const parent = await this.deps.messages.get(input.parentId) // 404 when foreign or unknown
      if (threadId && parent.threadId !== threadId) throw new NotFoundError('message')
      return {
        content,
        threadId: parent.threadId,
        userMessage: { id: newId(), parentId: parent.id },
        answerParentId: null,
        historyLeaf: parent.id,
      }
    }
    if (input.parentId === null || !threadId)
      return {
        content,
        threadId,
        userMessage: { id: newId(), parentId: null },
        answerParentId: null,
        historyLeaf: null,
      }
    // After the newest message: the leaf is settled inside the write that stores the message.
    const leaf = await this.deps.threads.leafOf(threadId)
    return { content, threadId, userMessage: { id: newId() }, answerParentId: null, historyLeaf: leaf }
  }

  /** The branch the model answers on, newest messages first within the budget. */
  async #history(threadId: string, leafId: string): Promise<Message[]> {
    const budget = this.deps.historyBudgetChars ?? 12_000
    const recent = await this.deps.messages.recentOnBranch(threadId, leafId, 50)
    const kept: Message[] = []
    let used = 0
    for (const m of recent.reverse()) {
      if (m.role === 'system' || !m.content) continue
      used += m.content.length
      if (used > budget && kept.length > 0) break
      kept.unshift({ role: m.role, content: m.content })
    }
    return kept
  }

  async #execute(
    run: ActiveRun,
    model: string,
    conversation: Message[],
    extra: { resume?: RunState; options?: ModelOptions } = {},
  ): Promise<void> {
    const { journal, context } = run
    const timeout = setTimeout(() => run.controller.abort(new RunStop('timeout')), this.deps.runTimeoutMs)
    let outcome: RunOutcome = {
      status: 'failed',
      content: '',
      agent: journal.agent,
      error: { code: 'internal_error', message: 'the run failed unexpectedly' },
      usage: { promptTokens: 0, completionTokens: 0, steps: 0 },
    }
    try {
      const ended = await runAgent(
        { journal, context, model, agent: journal.agent, conversation, resume: extra.resume, options: extra.options },
        this.deps.runner,
      )
      outcome = outcomeAfterStop(ended, run.controller.signal)
    } catch (error) {
      log.error('run crashed', { error: String(error) })
    } finally {
      clearTimeout(timeout)
      // A start that was never written (its journal discarded): nothing to store, count or
      // tell (start() cleans up).
      if (!(await journal.whenOpen())) await context.dispose().catch(() => {})
      else await this.#finish(run, outcome)
    }
  }

  /** After the agent loop: the answer, `agent_completed`, the slot, the journal kept a while. */
  async #finish(run: ActiveRun, outcome: RunOutcome) {
    const { journal, context } = run
    // Tokens are counted before the client hears "completed", so a usage read right after sees
    // them; counted beside the answer's write, so both join one group commit.
    const counted = this.deps.quota?.settle(journal.runId, outcome.usage)
    await this.#complete(run, outcome, counted)
    this.active.delete(journal.runId)
    await this.deps.limiter
      .release(context.userId, journal.runId)
      .catch((error) => log.error('could not release the run slot', { error: String(error) }))
    await context.dispose().catch(() => {})
    this.#keepRecent(journal)
    this.deps.onRunFinished?.(outcome, {
      runId: journal.runId,
      userId: context.userId,
      durationMs: performance.now() - journal.createdAt,
      firstTokenMs: journal.firstDeltaAt && journal.firstDeltaAt - journal.createdAt,
    })
  }

  /**
   * Stores the answer (once `counted`, the quota's token count, is done too), settles the run's
   * outcome, emits the one `agent_completed`, persists the journal, closes the row.
   */
  async #complete(run: ActiveRun, outcome: RunOutcome, counted?: Promise<void>) {
    const { journal } = run
    // The text streamed so far stays (a cancelled answer keeps it); the outcome is stored beside it.
    const content = outcome.content
    let messageId = newId()
    const [stored] = await Promise.allSettled([
      this.deps.messages.add({
        id: messageId,
        threadId: journal.threadId,
        role: 'assistant',
        content,
        agent: outcome.agent,
        runId: journal.runId,
        parentId: run.answerParentId,
        status: outcome.status,
        error: outcome.error,
        citations: outcome.citations,
      }),
      counted,
    ])
    if (stored.status === 'fulfilled') messageId = stored.value.id
    else log.error('could not store the answer', { error: String(stored.reason) })
    // Before agent_completed is published: whoever waits for that event finds the outcome there.
    run.settle(outcome)
    // The run's row is closed in the same write as its agent_completed (one commit, and a
    // client that sees the event finds the run finished); the thread was marked as active by
    // the answer's own write (messages.add).
    const failuresBefore = this.persister.failures
    journal.append(
      {
        type: 'agent_completed',
        status: outcome.status,
        message: { id: messageId, content, ...(outcome.citations && { citations: outcome.citations }) },
        ...(outcome.error && { error: outcome.error }),
        usage: outcome.usage,
      },
      { status: outcome.status, error: outcome.error, agent: outcome.agent },
    )
    await this.persister.flush()
    // That write failed (even retried): the row is closed on its own, as it was before.
    if (this.persister.failures !== failuresBefore)
      await this.deps.runs
        .finish(journal.runId, outcome.status, outcome.error, outcome.agent)
        .catch((error) => log.error('could not close the run', { error: String(error) }))
  }

  #keepRecent(journal: RunJournal) {
    const timer = setTimeout(() => this.#recent.delete(journal.runId), this.deps.journalGraceMs ?? 60_000)
    timer.unref?.()
    this.#recent.set(journal.runId, { journal, timer })
  }

  /** Drops a finished run's journal from memory before its grace period ends. */
  #forget(runId: string) {
    const recent = this.#recent.get(runId)
    if (!recent) return
    clearTimeout(recent.timer)
    this.#recent.delete(runId)
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

  /**
   * Stops the active user's runs still going — those of `threadId`, or all of them — before the
   * thread or the account is deleted (the caller deletes it once this resolves). Each ends as a
   * cancel ends it (`agent_completed`, status `cancelled`, the answer so far kept until the
   * deletion); resolves once those of this process have ended, so nothing of theirs is written
   * after the deletion. A run on another process (cluster mode) is sent a cancel, as `cancel`
   * does; whatever it still writes after the deletion is dropped by the journal
   * (EventPersister), which also stops a run that started meanwhile.
   */
  async stopRuns(threadId?: string): Promise<void> {
    const userId = currentContext().userId
    const here = [...this.active.values()].filter(
      (run) => run.context.userId === userId && (threadId === undefined || run.journal.threadId === threadId),
    )
    for (const run of here) run.controller.abort(new RunStop('cancelled'))
    if (this.deps.remoteCancel) {
      for (const runId of await this.deps.runs.runningIds(threadId)) {
        if (this.active.has(runId)) continue
        await this.deps.remoteCancel(runId).catch((error) =>
          // Redis is down: the deletion goes on; the journal drops that run's events and stops it.
          log.warn('could not send a cancel to the process running a run', { run: runId, error: String(error) }),
        )
      }
    }
    await Promise.all(here.map((run) => run.done.catch(() => {})))
  }

  /**
   * The active user's run events after `afterSeq` (at most `limit`: a page), from memory when the
   * run is recent, else from the database.
   */
  async eventsAfter(
    runId: string,
    afterSeq: number,
    limit?: number,
  ): Promise<{ entries: JournalEntry[]; done: boolean }> {
    const userId = currentContext().userId
    const journal = this.#journal(runId)
    if (journal && journal.userId === userId) {
      // Deleting a thread deletes its runs, but their journals stay in memory for a while
      // (JOURNAL_GRACE_MS): the row decides whether the run still exists (one primary-key read).
      if (!(await this.deps.runs.find(runId))) {
        this.#forget(runId)
        throw new NotFoundError('run')
      }
      const entries = journal.since(afterSeq)
      return { entries: limit === undefined ? entries : entries.slice(0, limit), done: journal.completed }
    }
    const run = await this.deps.runs.get(runId)
    const rows = await this.deps.runs.eventsAfter(runId, afterSeq, limit)
    const entries = rows.map((wire) => ({ event: JSON.parse(wire) as RunEvent, wire }))
    return {
      entries,
      done:
        run.status !== 'running' && entries.at(-1)?.event.type === 'agent_completed' ? true : run.status !== 'running',
    }
  }

  /**
   * Continues the runs a dead process left `running` (PROTOCOL.md §9): on start of a single
   * server (all of them), or in cluster mode for a dead process (`nodeIds`). Each goes on from its
   * last stored event (src/agents/replay.ts) in this process, under this node's id, with its seq
   * continuing. A run already resumed `RUN_RESUME_MAX_ATTEMPTS` times — it may be what kills the
   * process — is closed as failed with `code` instead. `republishTail` (cluster) first publishes
   * again the run's last stored events, which the dead process may have stored but not published.
   * Resolves once every run is resumed or closed; returns how many of each.
   */
  async resumeInterrupted(
    code: string = ERROR_CODES.serverRestart,
    message = 'the server restarted while this run was in progress',
    nodeIds?: string[],
    opts: { createdBefore?: number; republishTail?: number } = {},
  ): Promise<{ resumed: number; failed: number }> {
    const maxAttempts = this.deps.maxResumeAttempts ?? 2
    const stale = (await this.deps.journalStore.listRunning(nodeIds)).filter(
      (row) => !this.active.has(row.id) && (opts.createdBefore === undefined || row.createdAt < opts.createdBefore),
    )
    const exhausted = stale.filter((row) => row.resumeAttempts >= maxAttempts)
    let failed =
      exhausted.length > 0
        ? await this.recoverInterrupted(code, message, nodeIds, { ...opts, only: exhausted.map((r) => r.id) })
        : 0
    let resumed = 0
    for (const row of stale.filter((r) => r.resumeAttempts < maxAttempts)) {
      // Claimed by a conditional update, so two survivors never both continue one run.
      if (!(await this.deps.journalStore.claimResume(row.id, row.resumeAttempts, this.deps.nodeId))) continue
      try {
        if (await this.#resume(row, opts.republishTail)) resumed++
      } catch (error) {
        log.error('could not resume a run; closing it', { runId: row.id, error: String(error) })
        failed += await this.recoverInterrupted(code, message, undefined, { only: [row.id] })
      }
    }
    return { resumed, failed }
  }

  async #resume(
    row: {
      id: string
      userId: string
      threadId: string
      agent: string
      model: string
      input: string
      answerParentId?: string | null
    },
    republishTail?: number,
  ): Promise<boolean> {
    const context = createUserContext({ userId: row.userId, role: 'member', runId: row.id })
    const stored = await context.run(async () =>
      (await this.deps.runs.eventsAfter(row.id, 0)).map((wire) => ({ event: JSON.parse(wire) as RunEvent, wire })),
    )
    if (republishTail) for (const entry of stored.slice(-republishTail)) this.deps.publisher.publish(row.userId, entry)
    const last = stored.at(-1)?.event
    if (last?.type === 'agent_completed') {
      // It ended just before the crash: only the row was left to close.
      await context.run(() => this.deps.runs.finish(row.id, last.status, last.error, last.agent))
      await context.dispose()
      return false
    }
    await this.deps.limiter.tryAcquire(row.userId, Number.MAX_SAFE_INTEGER, row.id) // counted against the user again until it ends
    // The branch it answered on: up to the parent of its question (runs from before the message
    // tree have no answerParentId; their question is the user message stored with the run).
    const answerParentId =
      row.answerParentId ?? (await context.run(() => this.deps.messages.userMessageOfRun(row.id)))?.id ?? null
    const question = answerParentId
      ? await context.run(() => this.deps.messages.get(answerParentId)).catch(() => undefined)
      : undefined
    const history = question?.parentId ? await context.run(() => this.#history(row.threadId, question.parentId!)) : []
    const conversation: Message[] = [...history, { role: 'user', content: row.input }]
    // Nothing stored yet (it died before its first event was written): it simply starts again.
    const state =
      stored.length > 0
        ? replayRun(
            stored.map((e) => e.event),
            conversation,
            row.agent,
          )
        : undefined
    await context.dispose()
    const controller = new AbortController()
    const runContext = createUserContext({
      userId: row.userId,
      role: 'member',
      runId: row.id,
      metadata: { threadId: row.threadId, model: row.model, resumed: true },
      signal: controller.signal,
    })
    const journal = RunJournal.reopen(
      row.id,
      row.userId,
      row.threadId,
      state?.agent ?? row.agent,
      this.persister,
      this.deps.publisher,
      stored,
    )
    const { promise: outcome, resolve: settle } = Promise.withResolvers<RunOutcome>()
    const active: ActiveRun = {
      journal,
      context: runContext,
      controller,
      done: Promise.resolve(),
      outcome,
      settle,
      answerParentId,
    }
    this.active.set(row.id, active)
    log.info('resuming a run interrupted by the last stop', { runId: row.id, fromSeq: journal.lastSeq })
    this.deps.onRunResumed?.({ runId: row.id, userId: row.userId })
    active.done = runWithoutUser(() =>
      runContext.run(() => this.#execute(active, row.model, conversation, { resume: state })),
    )
    return true
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
    code: string = ERROR_CODES.serverRestart,
    message = 'the server restarted while this run was in progress',
    nodeIds?: string[],
    opts: { createdBefore?: number; republishTail?: number; only?: string[] } = {},
  ): Promise<number> {
    const stale = (await this.deps.journalStore.listRunning(nodeIds)).filter(
      (row) =>
        !this.active.has(row.id) &&
        (opts.createdBefore === undefined || row.createdAt < opts.createdBefore) &&
        (!opts.only || opts.only.includes(row.id)),
    )
    for (const row of stale) {
      const context = createUserContext({ userId: row.userId, role: 'member', runId: row.id })
      await context.run(async () => {
        let lastSeq = await this.deps.journalStore.lastSeq(row.id)
        if (opts.republishTail && lastSeq > 0) {
          for (const wire of await this.deps.runs.eventsAfter(row.id, Math.max(0, lastSeq - opts.republishTail))) {
            const event = JSON.parse(wire) as RunEvent
            lastSeq = Math.max(lastSeq, event.seq)
            this.deps.publisher.publish(row.userId, { event, wire })
          }
        }
        const journal = new RunJournal(
          row.id,
          row.userId,
          row.threadId,
          row.agent,
          this.persister,
          this.deps.publisher,
          lastSeq,
        )
        if (lastSeq === 0) journal.append({ type: 'agent_started', input: row.input })
        const error = { code, message }
        const content = ''
        const question = await this.deps.messages.userMessageOfRun(row.id)
        const saved = await this.deps.messages.add({
          threadId: row.threadId,
          role: 'assistant',
          content,
          agent: row.agent,
          runId: row.id,
          parentId: row.answerParentId ?? question?.id ?? null,
          status: 'failed',
          error,
        })
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
