/** The chat view: a thread's history, live runs, and the composer. */
import { ApiError } from '../../client/api'
import { SocketRequestError } from '../../client/socket'
import type { RunEvent } from '../../../protocol'
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

interface Claimable {
  content: string
  el: HTMLElement
  claimed: boolean
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
  #runs = new Map<string, RunView>()
  /** Messages sent from this view that await `run_accepted`, by requestId. */
  #requests = new Map<string, { content: string; bubble: HTMLElement }>()
  /** User bubbles of runs started here, by runId: the run's answer goes right after it. */
  #ownBubbles = new Map<string, HTMLElement>()
  /** User messages shown from history (or unconfirmed sends) that a replayed run may belong to. */
  #claimable: Claimable[] = []
  /** Runs whose answer is already in the history. */
  #answered = new Set<string>()
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
    this.#actions = {
      switchTo: (id) => {
        if (this.threadId) location.hash = `#/c/${encodeURIComponent(this.threadId)}/${encodeURIComponent(id)}`
      },
      edit: (message, turn) => void this.#edit(message, turn),
      regenerate: (message, turn) => this.#regenerate(message, turn),
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
    for (const run of this.#runs.values()) run.flush()
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
    for (const m of messages) if (m.role === 'assistant' && m.runId) this.#answered.add(m.runId)
    const unanswered: string[] = []
    for (const m of messages) {
      if (m.role === 'user') {
        const bubble = userBubble(m.content)
        decorateMessage(bubble, m, this.#actions)
        this.#log.append(bubble)
        this.#claimable.push({ content: m.content, el: bubble, claimed: false })
        if (m.runId && !this.#answered.has(m.runId)) unanswered.push(m.runId)
      } else if (m.role === 'assistant') {
        this.#log.append(this.#historyAnswer(m))
      }
    }
    this.#empty.hidden = messages.length > 0 || this.#runs.size > 0
    this.#loaded = true
    // Runs this page already follows (live, or resumed after a reload).
    // A finished one only when its question is on this branch (other branches' runs stay there).
    const asked = new Set(messages.flatMap((m) => (m.role === 'user' && m.runId ? [m.runId] : [])))
    for (const run of this.#ctx.socket.runs.runs.values()) {
      if (run.threadId === threadId && !this.#answered.has(run.runId) && (!run.done || asked.has(run.runId)))
        for (const e of run.events) this.#apply(e)
    }
    // A question without an answer: its run may still be going (started elsewhere).
    for (const runId of unanswered) {
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

  #historyAnswer(m: Message): HTMLElement {
    const el = RunView.fromMessage(m, this.#ctx.agentName)
    decorateMessage(el, m, this.#actions)
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
    const request = this.#requests.get(requestId)
    if (!request) return
    this.#requests.delete(requestId)
    this.#ownBubbles.set(runId, request.bubble)
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
    // Events that came in before the acceptance was processed.
    const run = this.#ctx.socket.runs.get(runId)
    if (run) for (const e of run.events) this.#apply(e)
    this.#updateControls()
  }

  #onEvent(event: RunEvent) {
    if (!this.#loaded || event.threadId !== this.threadId) return
    this.#apply(event)
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

  #apply(event: RunEvent) {
    if (this.#answered.has(event.runId)) return
    let view = this.#runs.get(event.runId)
    if (!view) {
      view = new RunView(event.runId, this.#ctx.agentName)
      this.#runs.set(event.runId, view)
      this.#place(view, event)
      this.#empty.hidden = true
    }
    const before = view.done
    view.apply(event)
    this.#scrollToEnd()
    if (view.done !== before) this.#updateControls()
    else if (event.type === 'agent_started') this.#updateControls()
  }

  /** Puts a run's answer after the question it belongs to. */
  #place(view: RunView, first: RunEvent) {
    const own = this.#ownBubbles.get(view.runId)
    if (own) {
      own.after(view.el)
      return
    }
    if (first.type === 'agent_started') {
      for (let i = this.#claimable.length - 1; i >= 0; i--) {
        const c = this.#claimable[i]
        if (!c.claimed && c.content === first.input) {
          c.claimed = true
          const next = c.el.nextElementSibling
          // Only when no answer already follows that question.
          if (!next || next.classList.contains('turn-user')) {
            c.el.after(view.el)
            return
          }
        }
      }
      // A run started in another tab or device: show its question too.
      this.#log.append(userBubble(first.input))
    }
    this.#log.append(view.el)
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
    const ids = new Set<string>()
    for (const [id, view] of this.#runs) if (!view.done) ids.add(id)
    if (this.threadId) for (const r of this.#ctx.socket.activeRunsOf(this.threadId)) ids.add(r.runId)
    return [...ids]
  }

  #busy(): boolean {
    return this.#requests.size > 0 || this.#activeRunIds().length > 0
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
    for (const m of messages) {
      if (!m.runId || this.#log.querySelector(`[data-message-id="${CSS.escape(m.id)}"]`)) continue
      const el =
        m.role === 'assistant'
          ? this.#log.querySelector<HTMLElement>(
              `.turn-assistant[data-run-id="${CSS.escape(m.runId)}"]:not([data-message-id])`,
            )
          : (this.#ownBubbles.get(m.runId) ?? null)
      if (el?.isConnected) decorateMessage(el, m, this.#actions)
    }
  }

  /** Edit and resend: a new version of this message after the same parent; what followed it leaves the view. */
  async #edit(message: Message, bubble: HTMLElement) {
    if (this.#busy()) return
    const content = await editInPlace(bubble.querySelector<HTMLElement>('.bubble') ?? bubble, message.content)
    if (content === null || this.#busy()) return
    this.#removeFrom(bubble)
    this.#sendMessage(content, { parentId: message.parentId ?? null })
  }

  /** A new answer to the same question; the old one stays as another version. */
  #regenerate(message: Message, turn: HTMLElement) {
    if (this.#busy()) return
    const question = turn.previousElementSibling as HTMLElement | null
    this.#removeFrom(turn)
    this.#sendMessage(null, { regenerate: message.id, anchor: question ?? undefined })
  }

  /** Takes an element and everything after it out of the log (a new branch replaces them). */
  #removeFrom(el: Element) {
    let node: Element | null = el
    while (node) {
      const next: Element | null = node.nextElementSibling
      node.remove()
      node = next
    }
  }

  #submit() {
    const content = this.#input.value.trim()
    if (!content || this.#busy()) return
    this.#input.value = ''
    this.#autosize()
    // Typed under an older branch (opened by a version switch or a search jump): continue that branch.
    const shownLast = [...this.#log.querySelectorAll<HTMLElement>('[data-message-id]')].at(-1)?.dataset.messageId
    this.#sendMessage(content, this.leaf && shownLast ? { parentId: shownLast } : {})
  }

  #sendMessage(content: string | null, opts: { parentId?: string | null; regenerate?: string; anchor?: HTMLElement }) {
    const bubble = opts.anchor ?? (content !== null ? userBubble(content) : h('div'))
    if (!opts.anchor) this.#log.append(bubble)
    this.#empty.hidden = true
    this.#scrollToEnd(true)
    const { requestId, accepted } = this.#ctx.socket.chat({
      content: content ?? '',
      threadId: this.threadId,
      agent: this.#agent.value || undefined,
      model: this.#model.value || undefined,
      ...(opts.parentId !== undefined && { parentId: opts.parentId }),
      ...(opts.regenerate && { regenerate: opts.regenerate }),
    })
    this.#requests.set(requestId, { content: content ?? '', bubble })
    this.#updateControls()
    accepted.catch((error) => {
      this.#requests.delete(requestId)
      const lost = error instanceof SocketRequestError && error.code === 'connection_lost'
      const text = lost
        ? 'The connection dropped before the server confirmed this message; if it arrived, its answer will appear here.'
        : `Not sent: ${(error as Error).message}`
      bubble.append(h('p', { class: lost ? 'bubble-note' : 'bubble-note bubble-error', role: 'alert' }, text))
      if (lost && content !== null) this.#claimable.push({ content, el: bubble, claimed: false })
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
