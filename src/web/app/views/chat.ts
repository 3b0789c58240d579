/**
 * The chat view: a thread's history, live runs, and the composer. What the log shows is the
 * Transcript model (client/transcript.ts); this view feeds it what happens and renders it,
 * one element per entry key.
 */
import { ApiError } from '../../client/api'
import { SocketRequestError } from '../../client/socket'
import { type Answer, type Question, Transcript } from '../../client/transcript'
import { ERROR_CODES, type RunEvent } from '../../../protocol'
import type { Message } from '../../client/types'
import type { AppContext, View } from '../context'
import { h, icon, icons } from '../dom'
import { RunView, userBubble } from './run-view'
import { decorateMessage, editInPlace, type MessageActions } from './message-controls'
import { threadActions } from './thread-actions'

const PREFS_KEY = 'chat-prefs'

function loadPrefs(): { agent?: string; model?: string } {
  try {
    return JSON.parse(localStorage.getItem(PREFS_KEY) ?? '{}') ?? {}
  } catch {
    return {}
  }
}
function savePrefs(prefs: { agent?: string; model?: string }) {
  try {
    localStorage.setItem(PREFS_KEY, JSON.stringify(prefs))
  } catch {}
}

export class ChatView implements View {
  readonly el: HTMLElement
  threadId: string | undefined
  #ctx: AppContext
  #title: HTMLElement
  #log: HTMLElement
  #empty: HTMLElement
  #input: HTMLTextAreaElement
  #send: HTMLButtonElement
  #stop: HTMLButtonElement
  #agent: HTMLSelectElement
  #model: HTMLSelectElement
  /** What the log shows: the model it is rendered from. */
  #transcript: Transcript
  /** The element of each transcript entry, by entry key. */
  #elements = new Map<string, HTMLElement>()
  /** The live drawing of each streaming answer, by entry key, and how many of its events it drew. */
  #runViews = new Map<string, { view: RunView; drawn: number }>()
  /** The message id each element got its controls for, by entry key. */
  #decorated = new Map<string, string>()
  /** The failure note under a question, by entry key. */
  #notes = new Map<string, HTMLElement>()
  #stick = true
  #loaded = false
  #disposers: (() => void)[] = []
  /** The message whose branch is shown (from the URL: a branch switch or a search jump). */
  readonly leaf: string | undefined
  #actions: MessageActions
  #headerActions: HTMLElement

  constructor(ctx: AppContext, threadId?: string, leaf?: string) {
    this.#ctx = ctx
    this.threadId = threadId
    this.leaf = leaf
    this.#transcript = new Transcript(threadId)
    this.#actions = {
      switchTo: (id) => {
        if (this.threadId) location.hash = `#/c/${encodeURIComponent(this.threadId)}/${encodeURIComponent(id)}`
      },
      edit: (message) => void this.#edit(message),
      regenerate: (message) => this.#regenerate(message),
    }
    this.#title = h('h1', { class: 'chat-title', id: 'chat-title' }, threadId ? ' ' : 'New chat')
    this.#empty = h(
      'div',
      { class: 'empty-state' },
      h('div', { class: 'empty-icon' }, icon(icons.chat)),
      h('p', { class: 'empty-title' }, 'How can I help?'),
      h('p', { class: 'muted' }, 'Ask a question, analyse a dataset, or save a note.'),
      this.#starters(),
    )
    this.#empty.hidden = !!threadId
    this.#log = h('div', { class: 'messages', role: 'log', 'aria-labelledby': 'chat-title', tabindex: '0' })
    this.#log.addEventListener('scroll', () => {
      this.#stick = this.#log.scrollHeight - this.#log.scrollTop - this.#log.clientHeight < 80
    })

    // A phone has no room for the keyboard hint (it is in the description for screen readers anyway).
    const narrow = typeof matchMedia === 'function' && matchMedia('(max-width: 760px)').matches
    this.#input = h('textarea', {
      id: 'prompt',
      class: 'prompt',
      rows: '1',
      placeholder: narrow ? 'Message…' : 'Message… (Enter to send, Shift+Enter for a new line)',
      'aria-describedby': 'composer-hint',
      autocomplete: 'off',
    }) as HTMLTextAreaElement
    this.#input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && !e.altKey && !e.ctrlKey && !e.metaKey) {
        e.preventDefault()
        this.#submit()
      }
    })
    this.#input.addEventListener('input', () => {
      this.#autosize()
      this.#updateControls()
    })

    const prefs = loadPrefs()
    this.#agent = h('select', { id: 'agent-select', class: 'select' })
    const agents = ctx.agents.length ? ctx.agents : [{ id: 'triage', name: 'Auto' }]
    for (const a of agents)
      this.#agent.append(h('option', { value: a.id, title: (a as any).description }, ctx.agentName(a.id) || a.name))
    this.#agent.value = agents.some((a) => a.id === prefs.agent)
      ? prefs.agent!
      : agents.some((a) => a.id === 'triage')
        ? 'triage'
        : agents[0].id
    this.#model = h('select', { id: 'model-select', class: 'select' })
    this.#model.append(
      h('option', { value: '' }, ctx.models.default ? `Default (${ctx.models.default})` : 'Default model'),
    )
    for (const m of ctx.models.models) if (m !== ctx.models.default) this.#model.append(h('option', { value: m }, m))
    if (prefs.model && ctx.models.models.includes(prefs.model) && prefs.model !== ctx.models.default)
      this.#model.value = prefs.model
    if (ctx.models.failed) this.#model.title = 'The model list could not be loaded; the server default is used.'
    const remember = () => savePrefs({ agent: this.#agent.value, model: this.#model.value || undefined })
    this.#agent.addEventListener('change', remember)
    this.#model.addEventListener('change', remember)

    this.#send = h(
      'button',
      { type: 'submit', class: 'btn btn-primary send-btn' },
      icon(icons.send),
      h('span', null, 'Send'),
    )
    this.#stop = h(
      'button',
      { type: 'button', class: 'btn btn-danger stop-btn', onclick: () => this.#stopRuns() },
      icon(icons.stop),
      h('span', null, 'Stop'),
    )
    this.#stop.hidden = true

    const form = h(
      'form',
      { class: 'composer', 'aria-label': 'Send a message' },
      h('label', { for: 'prompt', class: 'sr-only' }, 'Message'),
      this.#input,
      h(
        'div',
        { class: 'composer-bar' },
        h(
          'div',
          { class: 'pickers' },
          h('label', { class: 'picker' }, h('span', null, 'Agent'), this.#agent),
          h('label', { class: 'picker' }, h('span', null, 'Model'), this.#model),
        ),
        h('div', { class: 'composer-actions' }, this.#stop, this.#send),
      ),
      h('p', { id: 'composer-hint', class: 'sr-only' }, 'Enter sends, Shift+Enter starts a new line.'),
    )
    form.addEventListener('submit', (e) => {
      e.preventDefault()
      this.#submit()
    })

    this.#headerActions = threadActions(ctx, () => this.threadId)
    this.#headerActions.hidden = !threadId
    this.el = h(
      'section',
      { class: 'chat-view' },
      h('header', { class: 'chat-header' }, this.#title, this.#headerActions),
      h('div', { class: 'messages-wrap' }, this.#empty, this.#log),
      ctx.models.failed ? modelDownBanner(ctx.models.error) : null,
      form,
    )

    this.#disposers.push(
      ctx.socket.onEvent((e) => this.#onEvent(e)),
      ctx.socket.onFrame((f) => {
        if (f.type === 'run_accepted') this.#onAccepted(f.requestId, f.runId, f.threadId)
      }),
      ctx.socket.onStatus(() => this.#updateControls()),
    )
    this.#updateControls()
    void this.#load()
  }

  focus() {
    this.#input.focus()
  }

  /** Example prompts, one per specialist, on an empty chat: a click sends it. */
  #starters(): HTMLElement {
    const prompts: [string, string][] = [
      ['Analyse data', 'Which region sells the most in my sales dataset?'],
      ['Plan', 'Plan my week: three workouts and a dentist visit.'],
      ['Notes', 'Save a note: call the plumber on Monday.'],
      ['Ask', 'Explain the difference between TCP and UDP in two sentences.'],
    ]
    return h(
      'ul',
      { class: 'starters', 'aria-label': 'Suggestions' },
      prompts.map(([label, text]) =>
        h(
          'li',
          null,
          h(
            'button',
            { type: 'button', class: 'starter', onclick: () => this.#useStarter(text) },
            h('span', { class: 'starter-label' }, label),
            h('span', { class: 'starter-text' }, text),
          ),
        ),
      ),
    )
  }

  #useStarter(text: string) {
    if (this.#busy()) return
    this.#input.value = text
    this.#submit()
  }

  dispose() {
    for (const d of this.#disposers) d()
    for (const { view } of this.#runViews.values()) view.flush()
  }

  // ---- loading ---------------------------------------------------------------------------

  async #load() {
    const threadId = this.threadId
    if (!threadId) {
      this.#loaded = true
      return
    }
    let messages: Message[]
    try {
      const [thread, list] = await Promise.all([
        this.#ctx.api.thread(threadId),
        this.#ctx.api.messages(threadId, this.leaf),
      ])
      this.#title.textContent = thread.title
      messages = list
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        this.#title.textContent = 'Chat not found'
        this.#log.append(
          h(
            'p',
            { class: 'notice' },
            'This chat does not exist or was deleted. ',
            h('a', { href: '#/' }, 'Start a new chat'),
          ),
        )
        return
      }
      this.#title.textContent = 'Chat'
      this.#log.append(
        h(
          'p',
          { class: 'notice notice-error', role: 'alert' },
          `Could not load this chat: ${(error as Error).message}`,
        ),
      )
      return
    }
    if (this.threadId !== threadId) return
    this.#transcript.load(messages)
    this.#loaded = true
    // Runs this page already follows (live, or resumed after a reload) that belong on this branch.
    for (const run of this.#ctx.socket.runs.runs.values()) {
      if (run.threadId === threadId && this.#transcript.wants(run.runId, run.done))
        for (const e of run.events) this.#transcript.apply(e)
    }
    this.#render()
    this.#empty.hidden = this.#transcript.entries.length > 0
    // A question without an answer: its run may still be going (started elsewhere).
    for (const runId of this.#transcript.unansweredRuns()) {
      if (this.#ctx.socket.runs.get(runId)) continue
      this.#ctx.api
        .run(runId)
        .then((run) => {
          if (run.status === 'running') this.#ctx.socket.track(runId, run.threadId)
        })
        .catch(() => {})
    }
    const target = this.leaf && this.#log.querySelector<HTMLElement>(`[data-message-id="${CSS.escape(this.leaf)}"]`)
    if (target) {
      // A jump (search result, branch switch): show that message, marked.
      target.classList.add('jump-target')
      this.#stick = false
      target.scrollIntoView({ block: 'center' })
    } else this.#scrollToEnd(true)
    this.#updateControls()
  }

  /** A stored answer; its "Show steps" swaps in the full run, drawn from its events. */
  #historyAnswer(key: string, m: Message): HTMLElement {
    const el = RunView.fromMessage(m, this.#ctx.agentName)
    if (m.runId) {
      const runId = m.runId
      const button = h('button', { type: 'button', class: 'btn-link steps-btn' }, 'Show steps')
      button.addEventListener('click', async () => {
        button.disabled = true
        button.textContent = 'Loading…'
        try {
          const { events } = await this.#ctx.api.runEvents(runId, 0)
          const view = new RunView(runId, this.#ctx.agentName)
          for (const e of events) view.apply(e)
          view.flush()
          decorateMessage(view.el, m, this.#actions)
          el.replaceWith(view.el)
          if (this.#elements.get(key) === el) this.#elements.set(key, view.el)
        } catch (error) {
          button.disabled = false
          button.textContent = 'Show steps'
          this.#ctx.toast(`Could not load the steps: ${(error as Error).message}`)
        }
      })
      el.querySelector('.turn-meta')!.append(button)
    }
    return el
  }

  // ---- live events -----------------------------------------------------------------------

  #onAccepted(requestId: string, runId: string, threadId: string) {
    if (!this.#transcript.accepted(requestId, runId, threadId)) return
    if (!this.threadId) {
      this.threadId = threadId
      this.#headerActions.hidden = false
      history.replaceState(null, '', `#/c/${encodeURIComponent(threadId)}`)
      this.#ctx.setCurrentThread(threadId)
      this.#ctx.refreshThreads()
      this.#ctx.api
        .thread(threadId)
        .then((t) => (this.#title.textContent = t.title))
        .catch(() => {})
    }
    // Events that came in before the acceptance was processed (the model skips what it has).
    const run = this.#ctx.socket.runs.get(runId)
    if (run) for (const e of run.events) this.#transcript.apply(e)
    this.#render()
    this.#scrollToEnd()
    this.#updateControls()
  }

  #onEvent(event: RunEvent) {
    if (!this.#loaded || event.threadId !== this.threadId) return
    if (!this.#transcript.apply(event)) return
    this.#render()
    this.#scrollToEnd()
    this.#updateControls()
    if (event.type === 'agent_completed') {
      this.#ctx.announce(
        event.status === 'completed'
          ? 'Answer complete.'
          : event.status === 'cancelled'
            ? 'Run cancelled.'
            : 'The run failed.',
      )
      this.#ctx.refreshThreads()
      this.#refreshTitle()
      void this.#syncControls()
    }
  }

  // ---- rendering the transcript ----------------------------------------------------------

  /** Makes the log show the transcript: elements made, updated, ordered and removed by entry key. */
  #render() {
    const entries = this.#transcript.entries
    const keys = new Set(entries.map((e) => e.key))
    for (const [key, el] of this.#elements) {
      if (keys.has(key)) continue
      el.remove()
      this.#elements.delete(key)
      this.#runViews.get(key)?.view.flush()
      this.#runViews.delete(key)
      this.#decorated.delete(key)
      this.#notes.delete(key)
    }
    let previous: HTMLElement | undefined
    for (const entry of entries) {
      const el = entry.kind === 'question' ? this.#renderQuestion(entry) : this.#renderAnswer(entry)
      if (previous ? previous.nextElementSibling !== el : this.#log.firstElementChild !== el) {
        if (previous) previous.after(el)
        else this.#log.prepend(el)
      }
      previous = el
    }
    if (entries.length > 0) this.#empty.hidden = true
  }

  #renderQuestion(q: Question): HTMLElement {
    let el = this.#elements.get(q.key)
    if (!el) {
      el = q.content !== null ? userBubble(q.content) : h('div')
      this.#elements.set(q.key, el)
    }
    // Why it was not sent, or that it may not have arrived.
    const note = this.#notes.get(q.key)
    const text = q.error ? failureNote(q.error) : undefined
    if (note && note.dataset.text !== text) {
      note.remove()
      this.#notes.delete(q.key)
    }
    if (q.error && text && !this.#notes.has(q.key)) {
      const lost = q.error.code === ERROR_CODES.connectionLost
      const added = h(
        'p',
        { class: lost ? 'bubble-note' : 'bubble-note bubble-error', role: 'alert', dataset: { text } },
        text,
      )
      el.append(added)
      this.#notes.set(q.key, added)
    }
    if (q.message) this.#decorate(q.key, el, q.message)
    return el
  }

  #renderAnswer(a: Answer): HTMLElement {
    let el = this.#elements.get(a.key)
    if (!el && a.events.length === 0 && a.message) {
      el = this.#historyAnswer(a.key, a.message)
      this.#elements.set(a.key, el)
    }
    if (!el || this.#runViews.has(a.key)) {
      let live = this.#runViews.get(a.key)
      if (!live) {
        live = { view: new RunView(a.runId ?? a.key, this.#ctx.agentName), drawn: 0 }
        this.#runViews.set(a.key, live)
        this.#elements.set(a.key, live.view.el)
      }
      for (const e of a.events.slice(live.drawn)) live.view.apply(e)
      live.drawn = a.events.length
      el = live.view.el
    }
    if (a.message) this.#decorate(a.key, el, a.message)
    return el
  }

  /** Gives a turn its controls (versions, Copy, Edit, Regenerate) once its message is known. */
  #decorate(key: string, el: HTMLElement, message: Message) {
    if (this.#decorated.get(key) === message.id && el.dataset.messageId === message.id) return
    decorateMessage(el, message, this.#actions)
    this.#decorated.set(key, message.id)
  }

  async #refreshTitle() {
    if (!this.threadId) return
    try {
      const t = await this.#ctx.api.thread(this.threadId)
      this.#title.textContent = t.title
    } catch {}
  }

  // ---- sending and stopping --------------------------------------------------------------

  #activeRunIds(): string[] {
    const ids = new Set(this.#transcript.activeRunIds())
    if (this.threadId) for (const r of this.#ctx.socket.activeRunsOf(this.threadId)) ids.add(r.runId)
    return [...ids]
  }

  #busy(): boolean {
    return this.#transcript.pendingRequests > 0 || this.#activeRunIds().length > 0
  }

  /**
   * After a run here ends, the server knows the ids of its question and answer: give those
   * turns their controls (versions, Copy, Edit, Regenerate) like the history has.
   */
  async #syncControls() {
    const threadId = this.threadId
    if (!threadId || this.#busy()) return
    let messages: Message[]
    try {
      messages = await this.#ctx.api.messages(threadId)
    } catch {
      return
    }
    if (threadId !== this.threadId) return
    if (this.#transcript.attachMessages(messages).length > 0) this.#render()
  }

  /** Edit and resend: a new version of this message after the same parent; what followed it leaves the view. */
  async #edit(message: Message) {
    const entry = this.#transcript.byMessageId(message.id)
    const el = entry && this.#elements.get(entry.key)
    if (!entry || !el || this.#busy()) return
    const content = await editInPlace(el.querySelector<HTMLElement>('.bubble') ?? el, message.content)
    if (content === null || this.#busy()) return
    this.#transcript.truncateFrom(entry.key)
    this.#render()
    this.#sendMessage(content, { parentId: message.parentId ?? null })
  }

  /** A new answer to the same question; the old one stays as another version. */
  #regenerate(message: Message) {
    const entry = this.#transcript.byMessageId(message.id)
    if (!entry || this.#busy()) return
    const question = this.#transcript.questionBefore(entry.key)
    this.#transcript.truncateFrom(entry.key)
    this.#render()
    this.#sendMessage(null, { regenerate: message.id, regenerateOf: question?.key })
  }

  #submit() {
    const content = this.#input.value.trim()
    if (!content || this.#busy()) return
    this.#input.value = ''
    this.#autosize()
    // Typed under an older branch (opened by a version switch or a search jump): continue that branch.
    const shownLast = this.#transcript.lastMessageId()
    this.#sendMessage(content, this.leaf && shownLast ? { parentId: shownLast } : {})
  }

  #sendMessage(content: string | null, opts: { parentId?: string | null; regenerate?: string; regenerateOf?: string }) {
    const { requestId, accepted } = this.#ctx.socket.chat({
      content: content ?? '',
      threadId: this.threadId,
      agent: this.#agent.value || undefined,
      model: this.#model.value || undefined,
      ...(opts.parentId !== undefined && { parentId: opts.parentId }),
      ...(opts.regenerate && { regenerate: opts.regenerate }),
    })
    this.#transcript.send(requestId, content, { regenerateOf: opts.regenerateOf })
    this.#render()
    this.#scrollToEnd(true)
    this.#updateControls()
    accepted.catch((error) => {
      const code = error instanceof SocketRequestError ? error.code : ERROR_CODES.internalError
      this.#transcript.rejected(
        requestId,
        { code, message: (error as Error).message },
        code === ERROR_CODES.connectionLost,
      )
      this.#render()
      this.#updateControls()
    })
  }

  #stopRuns() {
    const ids = this.#activeRunIds()
    let sent = false
    for (const id of ids) sent = this.#ctx.socket.cancel(id) || sent
    if (ids.length && !sent) this.#ctx.toast('Not connected right now; try Stop again in a moment.')
    if (sent) {
      this.#stop.disabled = true
      this.#stop.querySelector('span:last-child')!.textContent = 'Stopping…'
    }
  }

  #updateControls() {
    const busy = this.#busy()
    const running = this.#activeRunIds().length > 0
    this.#send.disabled = busy || this.#input.value.trim() === ''
    const wasHidden = this.#stop.hidden
    this.#stop.hidden = !running
    if (!running || wasHidden) {
      this.#stop.disabled = false
      this.#stop.querySelector('span:last-child')!.textContent = 'Stop'
    }
    // Keep keyboard focus somewhere sensible when the Stop button disappears under it.
    if (!running && document.activeElement === this.#stop) this.#input.focus()
    this.el.dataset.busy = String(busy)
  }

  #autosize() {
    this.#input.style.height = 'auto'
    this.#input.style.height = `${Math.min(this.#input.scrollHeight, Math.round(window.innerHeight * 0.4))}px`
  }

  #scrollToEnd(force = false) {
    if (!force && !this.#stick) return
    this.#stick = true
    this.#log.scrollTop = this.#log.scrollHeight
  }
}

/** The note under a question that was not sent, or whose arrival is unknown. */
function failureNote(error: { code: string; message: string }): string {
  return error.code === ERROR_CODES.connectionLost
    ? 'The connection dropped before the server confirmed this message; if it arrived, its answer will appear here.'
    : `Not sent: ${error.message}`
}

/** Shown before anyone sends when the model list could not be had: one plain sentence, the operator's hint behind Details. */
function modelDownBanner(hint?: string): HTMLElement {
  return h(
    'div',
    { class: 'model-banner', role: 'status' },
    icon(icons.alert),
    h(
      'div',
      null,
      h(
        'p',
        { class: 'model-banner-text' },
        'The AI model is not reachable right now, so answers will fail until it is back. Your chats are safe.',
      ),
      hint ? h('details', null, h('summary', null, 'Details'), h('p', { class: 'model-banner-hint' }, hint)) : null,
    ),
  )
}
