/**
 * The transcript of the open thread as a pure model (no DOM): the questions and answers in the
 * order shown, the questions still waiting for `run_accepted`, and the answers streaming in.
 * Everything is keyed by ids — the request id of a message sent here, the run id the server
 * gave it, the message ids of the history — and never by comparing texts, so two questions
 * with the same words each get their own answer.
 *
 * The chat view feeds it what happens (history loaded, message sent, accepted, refused, run
 * events) and renders its `entries`; each entry has a stable `key` the view keeps its element
 * under.
 */
import type { EventError, RunEvent } from '../../protocol'
import type { Message } from './types'

export type QuestionState =
  /** Stored on the server (from the history, or confirmed by its run). */
  | 'stored'
  /** Sent here; `run_accepted` not yet received. */
  | 'sending'
  /** Accepted: its run is known. */
  | 'accepted'
  /** The socket dropped before the server confirmed it: it may or may not have arrived. */
  | 'lost'
  /** Refused by the server (`error` frame); `error` says why. */
  | 'failed'

export interface Question {
  kind: 'question'
  key: string
  /** Null for a regenerate with no question shown (nothing to draw). */
  content: string | null
  state: QuestionState
  /** The server's message, once known (history, or after the run ended). */
  message?: Message
  /** The run answering it (the newest, after a regenerate). */
  runId?: string
  /** The request waiting for `run_accepted`. */
  requestId?: string
  error?: { code: string; message: string }
}

export type AnswerStatus = 'streaming' | 'completed' | 'failed' | 'cancelled'

export interface Answer {
  kind: 'answer'
  key: string
  runId?: string
  status: AnswerStatus
  /** The run's events applied so far, in seq order without duplicates (empty for a stored answer). */
  events: RunEvent[]
  /** The answer text streamed so far (every message_delta, in order), or the stored content. */
  text: string
  /** The answer's message id (from agent_completed, or the history). */
  messageId?: string
  /** The stored message, for answers from the history or once the server told it. */
  message?: Message
  error?: EventError
}

export type Entry = Question | Answer

/** Options of a message sent from this view. */
export interface SendOptions {
  /** A regenerate: the question (by key) whose new answer this is; it stays where it is. */
  regenerateOf?: string
}

export class Transcript {
  threadId: string | undefined
  #entries: Entry[] = []
  #counter = 0
  /** Runs answered in the loaded history (or taken out by an edit): their replays add nothing. */
  #answeredRuns = new Set<string>()
  /** Run id → key of the question it answers. */
  #questionOfRun = new Map<string, string>()
  /** Request id → key of the question waiting for it. */
  #requests = new Map<string, string>()
  /** Events of runs not yet placed, held while one of our requests awaits `run_accepted` (it may be theirs). */
  #held = new Map<string, RunEvent[]>()
  /** Questions (by key) whose request was lost, oldest first: the next run of this thread we don't know is theirs. */
  #awaitingRun: string[] = []

  constructor(threadId?: string) {
    this.threadId = threadId
  }

  /** The entries in the order shown. */
  get entries(): readonly Entry[] {
    return this.#entries
  }

  get(key: string): Entry | undefined {
    return this.#entries.find((e) => e.key === key)
  }

  answerOf(runId: string): Answer | undefined {
    return this.#entries.find((e): e is Answer => e.kind === 'answer' && e.runId === runId)
  }

  /** The entry of a stored message (controls act on messages by id). */
  byMessageId(messageId: string): Entry | undefined {
    return this.#entries.find((e) => (e.kind === 'question' ? e.message?.id : e.messageId) === messageId)
  }

  /** The question an entry answers (the nearest question before it). */
  questionBefore(key: string): Question | undefined {
    const index = this.#entries.findIndex((e) => e.key === key)
    for (let i = index - 1; i >= 0; i--) {
      const e = this.#entries[i]
      if (e.kind === 'question') return e
    }
    return undefined
  }

  /** Requests waiting for `run_accepted`. */
  get pendingRequests(): number {
    return this.#requests.size
  }

  /** Runs shown here that have not ended. */
  activeRunIds(): string[] {
    return this.#entries.flatMap((e) => (e.kind === 'answer' && e.status === 'streaming' && e.runId ? [e.runId] : []))
  }

  /** The id of the last stored message shown (a message typed under an older branch continues it). */
  lastMessageId(): string | undefined {
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const e = this.#entries[i]
      const id = e.kind === 'question' ? e.message?.id : e.messageId
      if (id) return id
    }
    return undefined
  }

  // ---- history ---------------------------------------------------------------------------

  /** The thread's messages on the branch shown (a branch switch loads another list). */
  load(messages: readonly Message[]) {
    // Messages sent before the history came stay, after it, still waiting for their runs.
    const sending = this.#entries.filter((e): e is Question => e.kind === 'question' && e.state === 'sending')
    this.#entries = []
    this.#answeredRuns.clear()
    this.#questionOfRun.clear()
    this.#held.clear()
    this.#awaitingRun = []
    this.#requests = new Map(sending.flatMap((q) => (q.requestId ? [[q.requestId, q.key] as const] : [])))
    for (const m of messages) {
      if (m.role === 'user') {
        const q: Question = { kind: 'question', key: this.#key(), content: m.content, state: 'stored', message: m }
        if (m.runId) {
          q.runId = m.runId
          this.#questionOfRun.set(m.runId, q.key)
        }
        this.#entries.push(q)
      } else if (m.role === 'assistant') {
        if (m.runId) this.#answeredRuns.add(m.runId)
        this.#entries.push({
          kind: 'answer',
          key: this.#key(),
          runId: m.runId,
          status: m.status ?? 'completed',
          events: [],
          text: m.content,
          messageId: m.id,
          message: m,
          ...(m.error && { error: m.error }),
        })
      }
    }
    this.#entries.push(...sending)
  }

  /**
   * Whether a run this page follows belongs in this transcript: not one answered in the
   * history, and a finished one only when its question is on the branch shown.
   */
  wants(runId: string, done: boolean): boolean {
    return !this.#answeredRuns.has(runId) && !this.answerOf(runId) && (!done || this.#questionOfRun.has(runId))
  }

  /** Runs whose question is shown without an answer (they may still be going, started elsewhere). */
  unansweredRuns(): string[] {
    return [...this.#questionOfRun.keys()].filter((runId) => !this.#answeredRuns.has(runId) && !this.answerOf(runId))
  }

  /**
   * The server's messages after a run ended: entries shown without their ids get them (their
   * controls need them). Returns the entries that changed.
   */
  attachMessages(messages: readonly Message[]): Entry[] {
    const changed: Entry[] = []
    for (const m of messages) {
      if (!m.runId) continue
      if (m.role === 'assistant') {
        const answer = this.answerOf(m.runId)
        if (answer && !answer.message) {
          answer.message = m
          answer.messageId = m.id
          changed.push(answer)
        }
      } else if (m.role === 'user') {
        const key = this.#questionOfRun.get(m.runId)
        const question = key ? this.get(key) : undefined
        if (question?.kind === 'question' && !question.message) {
          question.message = m
          question.state = 'stored'
          changed.push(question)
        }
      }
    }
    return changed
  }

  // ---- sending ---------------------------------------------------------------------------

  /**
   * A message sent from this view with this request id: a new question at the end, or for a
   * regenerate the existing question (which then awaits its new answer). Returns its entry.
   */
  send(requestId: string, content: string | null, opts: SendOptions = {}): Question {
    const existing = opts.regenerateOf ? this.get(opts.regenerateOf) : undefined
    let question: Question
    if (existing?.kind === 'question') {
      question = existing
      question.error = undefined
    } else {
      question = { kind: 'question', key: this.#key(), content, state: 'sending' }
      this.#entries.push(question)
    }
    question.requestId = requestId
    if (question.state !== 'stored') question.state = 'sending'
    this.#requests.set(requestId, question.key)
    return question
  }

  /**
   * `run_accepted` for a request: its question now waits for this run (a new chat learns its
   * thread). False when the request is not one of ours. Held events of this run are applied.
   */
  accepted(requestId: string, runId: string, threadId: string): boolean {
    const key = this.#requests.get(requestId)
    if (!key) return false
    this.#requests.delete(requestId)
    this.threadId ??= threadId
    const question = this.get(key)
    if (question?.kind !== 'question') return true
    question.requestId = undefined
    question.runId = runId
    if (question.state !== 'stored') question.state = 'accepted'
    this.#questionOfRun.set(runId, key)
    this.#releaseHeld()
    return true
  }

  /**
   * The request failed: refused (`lost: false`), or the socket dropped before the server
   * confirmed it (`lost: true`; its run, if it started, is shown under it when it shows up).
   */
  rejected(requestId: string, error: { code: string; message: string }, lost: boolean) {
    const key = this.#requests.get(requestId)
    if (!key) return
    this.#requests.delete(requestId)
    const question = this.get(key)
    if (question?.kind === 'question') {
      question.requestId = undefined
      question.error = error
      if (question.state !== 'stored') question.state = lost ? 'lost' : 'failed'
      if (lost) this.#awaitingRun.push(question.key)
    }
    this.#releaseHeld()
  }

  /** Takes an entry and everything after it out (an edit or regenerate starts a new branch there). */
  truncateFrom(key: string): Entry[] {
    const index = this.#entries.findIndex((e) => e.key === key)
    if (index < 0) return []
    const removed = this.#entries.splice(index)
    const gone = new Set(removed.map((e) => e.key))
    // Their runs belong to the branch left behind: a late replay must not bring them back.
    for (const e of removed) if (e.kind === 'answer' && e.runId) this.#answeredRuns.add(e.runId)
    for (const [runId, k] of this.#questionOfRun) if (gone.has(k)) this.#questionOfRun.delete(runId)
    for (const [requestId, k] of this.#requests) if (gone.has(k)) this.#requests.delete(requestId)
    this.#awaitingRun = this.#awaitingRun.filter((k) => !gone.has(k))
    return removed
  }

  // ---- run events ------------------------------------------------------------------------

  /**
   * One run event (in seq order per run, as the run stream delivers them; replays are fine).
   * False when it changed nothing: a duplicate, a run of another thread or one answered in the
   * history, or an event held until our pending request is accepted.
   */
  apply(event: RunEvent): boolean {
    if (event.threadId !== this.threadId || this.#answeredRuns.has(event.runId)) return false
    const answer = this.answerOf(event.runId)
    if (answer) return this.#append(answer, [event])
    if (this.#requests.size > 0 && !this.#questionOfRun.has(event.runId)) {
      // Maybe the run of a request not yet accepted: wait for run_accepted (or its failure).
      const held = this.#held.get(event.runId) ?? []
      if (!held.some((e) => e.seq === event.seq)) held.push(event)
      this.#held.set(event.runId, held)
      return false
    }
    return this.#append(this.#place(event), [event])
  }

  /** A new answer for this run, after its question (one is added for a run started elsewhere). */
  #place(first: RunEvent): Answer {
    const answer: Answer = {
      kind: 'answer',
      key: this.#key(),
      runId: first.runId,
      status: 'streaming',
      events: [],
      text: '',
    }
    let questionKey = this.#questionOfRun.get(first.runId)
    if (!questionKey && this.#awaitingRun.length > 0) {
      // A message whose confirmation was lost: the first run we don't know of is its answer.
      questionKey = this.#awaitingRun.shift()
      if (questionKey) this.#claim(questionKey, first.runId)
    }
    const at = questionKey ? this.#entries.findIndex((e) => e.key === questionKey) : -1
    if (at >= 0) {
      // Right after its question and any answers it already has.
      let end = at + 1
      while (end < this.#entries.length && this.#entries[end].kind === 'answer') end++
      this.#entries.splice(end, 0, answer)
      return answer
    }
    if (first.type === 'agent_started') {
      // A run started in another tab or device: show its question too.
      const question: Question = {
        kind: 'question',
        key: this.#key(),
        content: first.input,
        state: 'accepted',
        runId: first.runId,
      }
      this.#questionOfRun.set(first.runId, question.key)
      this.#entries.push(question)
    }
    this.#entries.push(answer)
    return answer
  }

  #claim(questionKey: string, runId: string) {
    const question = this.get(questionKey)
    if (question?.kind !== 'question') return
    question.runId = runId
    question.error = undefined
    if (question.state === 'lost') question.state = 'accepted'
    this.#questionOfRun.set(runId, questionKey)
  }

  /** Applies the events not applied yet; true when there was one. */
  #append(answer: Answer, events: RunEvent[]): boolean {
    let added = false
    for (const event of events) {
      const last = answer.events.at(-1)?.seq ?? 0
      // Replays (resume, a reload, a view attaching late) repeat what was applied: skip those.
      if (event.seq <= last || answer.status !== 'streaming') continue
      answer.events.push(event)
      added = true
      if (event.type === 'message_delta') answer.text += event.delta ?? ''
      else if (event.type === 'agent_completed') {
        answer.status = event.status
        answer.messageId = event.message?.id
        if (!answer.text && event.message?.content) answer.text = event.message.content
        if (event.error) answer.error = event.error
      }
    }
    return added
  }

  /** Held events go where they belong now that no request is waiting (or one was accepted). */
  #releaseHeld() {
    if (this.#held.size === 0) return
    const placeNow = [...this.#held].filter(([runId]) => this.#requests.size === 0 || this.#questionOfRun.has(runId))
    for (const [runId, events] of placeNow) {
      this.#held.delete(runId)
      events.sort((a, b) => a.seq - b.seq)
      if (this.#answeredRuns.has(runId)) continue
      this.#append(this.answerOf(runId) ?? this.#place(events[0]), events)
    }
  }

  #key(): string {
    return `e${++this.#counter}`
  }
}
