/**
 * One assistant turn, drawn from a run's events. The process (thinking, hand-offs, tool cards)
 * folds into one "Steps" row — open and live while the run works, closed when it is done — and
 * the answer below it carries the weight. Feed it events in seq order with `apply`.
 */
import { type Citation, ERROR_CODES, type RunEvent } from '../../../protocol'
import { formatDuration, h, icon, icons, prettyJson } from '../dom'
import { setMarkdown } from '../markdown'
import { enhanceCodeBlocks } from '../code-blocks'
import { sourcesView } from './sources'
import { tableBody, tableHead } from './kit/table'

export type AgentNamer = (id: string) => string

export class RunView {
  readonly el: HTMLElement
  readonly runId: string
  #blocks: HTMLElement
  #statusEl: HTMLElement
  #agentEl: HTMLElement
  #indicator: HTMLElement
  #indicatorText: HTMLElement
  #thinking: { el: HTMLDetailsElement; text: HTMLElement; summary: HTMLElement; content: string } | undefined
  #answer: { el: HTMLElement; text: string } | undefined
  #tools = new Map<string, HTMLDetailsElement>()
  #steps: { el: HTMLDetailsElement; live: HTMLElement; body: HTMLElement; names: string[] } | undefined
  #renderQueued = new Set<{ el: HTMLElement; text: string }>()
  #frame = 0
  #startedAt: number | undefined
  #streamed = ''
  done = false
  status: string | undefined
  input: string | undefined

  constructor(
    runId: string,
    private readonly agentName: AgentNamer,
  ) {
    this.runId = runId
    this.#agentEl = h('span', { class: 'agent-badge' })
    this.#blocks = h('div', { class: 'run-blocks' })
    this.#indicatorText = h('span', { class: 'indicator-text' }, 'Thinking…')
    this.#indicator = h(
      'div',
      { class: 'thinking-indicator', role: 'status' },
      h('span', { class: 'dots', 'aria-hidden': 'true' }, h('span'), h('span'), h('span')),
      this.#indicatorText,
    )
    this.#statusEl = h('div', { class: 'run-status', role: 'status' })
    this.el = h(
      'article',
      { class: 'turn turn-assistant', dataset: { runId }, 'aria-busy': 'true', 'aria-label': 'Assistant answer' },
      h('div', { class: 'turn-meta' }, this.#agentEl),
      this.#blocks,
      this.#indicator,
      this.#statusEl,
    )
  }

  /** The answer text streamed so far (all message_delta text, in order). */
  get answerText(): string {
    return this.#streamed
  }

  apply(event: RunEvent) {
    if (this.done) return
    if (event.agent) this.#agentEl.textContent = this.agentName(event.agent)
    if (event.type !== 'agent_thinking') this.#endThinking()
    switch (event.type) {
      case 'agent_started':
        this.input = event.input
        this.#startedAt = Date.parse(event.ts) || undefined
        this.#showIndicator(true)
        break
      case 'agent_thinking':
        // Text after thinking is a new paragraph block; but a run resumed after a server restart
        // (or waiting in the queue meanwhile) continues the answer it was streaming.
        if (!continuesAnswer(event.status)) this.#answer = undefined
        if (event.status) this.#indicatorText.textContent = statusText(event.status)
        this.#thinkingText(event.text)
        break
      case 'message_delta':
        this.#showIndicator(false)
        this.#appendAnswer(event.delta ?? '')
        break
      case 'tool_executing':
        this.#answer = undefined
        this.#showIndicator(false)
        this.#toolStarted(event.toolCallId, event.tool, event.args)
        break
      case 'tool_completed':
        this.#toolCompleted(event)
        this.#showIndicator(true)
        break
      case 'agent_handoff':
        this.#answer = undefined
        this.#step(`Handed to ${this.agentName(event.to)}`).append(
          h(
            'div',
            { class: 'handoff', role: 'note' },
            icon(icons.arrow),
            h('span', { class: 'handoff-from' }, this.agentName(event.from)),
            h('span', { class: 'handoff-arrow', 'aria-label': 'hands over to' }, ' → '),
            h('span', { class: 'handoff-to' }, this.agentName(event.to)),
          ),
        )
        this.#showIndicator(true)
        break
      case 'agent_completed':
        this.#complete(event)
        break
    }
  }

  #showIndicator(on: boolean) {
    this.#indicator.hidden = !on || this.done
  }

  /**
   * The Steps row (made on the first step), named for the step now going on; returns the
   * place the step's element goes.
   */
  #step(name?: string): HTMLElement {
    if (!this.#steps) {
      const live = h('span', { class: 'steps-live' })
      const body = h('div', { class: 'steps-body' })
      const el = h(
        'details',
        { class: 'steps', open: true },
        h('summary', null, h('span', { class: 'steps-label' }, 'Steps'), live),
        body,
      ) as HTMLDetailsElement
      this.#blocks.prepend(el)
      this.#steps = { el, live, body, names: [] }
    }
    if (name) {
      this.#steps.names.push(name)
      this.#steps.live.textContent = name
    }
    return this.#steps.body
  }

  #thinkingText(text: string | undefined) {
    if (!this.#thinking) {
      const summary = h(
        'summary',
        null,
        h('span', { class: 'thinking-label' }, 'Thinking…'),
        h('span', { class: 'thinking-preview' }),
      )
      const textEl = h('div', { class: 'thinking-text' })
      const el = h('details', { class: 'thinking-block', open: true }, summary, textEl)
      this.#thinking = { el, text: textEl, summary, content: '' }
    }
    this.#showIndicator(!text)
    if (text) {
      if (!this.#thinking.content) this.#step('Thinking').append(this.#thinking.el)
      this.#thinking.content += text
      this.#thinking.text.textContent = this.#thinking.content
    }
  }

  #endThinking() {
    const t = this.#thinking
    if (!t) return
    this.#thinking = undefined
    if (!t.content) {
      t.el.remove()
      return
    }
    t.el.open = false
    t.summary.querySelector('.thinking-label')!.textContent = 'Thought'
    t.summary.querySelector('.thinking-preview')!.textContent = t.content.replace(/\s+/g, ' ').trim()
  }

  #appendAnswer(delta: string) {
    this.#streamed += delta
    if (!this.#answer) {
      this.#answer = { el: h('div', { class: 'answer markdown' }), text: '' }
      this.#blocks.append(this.#answer.el)
    }
    this.#answer.text += delta
    this.#queueRender(this.#answer)
  }

  /** Markdown is re-rendered at most once per frame however fast the deltas come. */
  #queueRender(block: { el: HTMLElement; text: string }) {
    this.#renderQueued.add(block)
    if (this.#frame) return
    const flush = () => {
      this.#frame = 0
      for (const b of this.#renderQueued) renderAnswer(b.el, b.text)
      this.#renderQueued.clear()
    }
    // Background tabs don't run animation frames; a timer keeps them current.
    this.#frame = document.hidden ? (setTimeout(flush, 50) as unknown as number) : requestAnimationFrame(flush)
  }

  /** Renders queued markdown now (before a test or screenshot reads the DOM, and at the end). */
  flush() {
    if (!this.#frame) return
    cancelAnimationFrame(this.#frame)
    clearTimeout(this.#frame)
    this.#frame = 0
    for (const b of this.#renderQueued) renderAnswer(b.el, b.text)
    this.#renderQueued.clear()
  }

  #toolStarted(id: string, tool: string, args: unknown) {
    const state = h('span', { class: 'tool-state' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'running…')
    const words = toolInWords(tool, args)
    const card = h(
      'details',
      { class: 'tool-card', dataset: { toolCallId: id, tool, state: 'running' } },
      h('summary', null, icon(icons.tool), h('span', { class: 'tool-name' }, ...words), state),
      h(
        'div',
        { class: 'tool-body' },
        h('div', { class: 'tool-label' }, 'Call'),
        h('pre', { class: 'tool-call' }, tool),
        h('div', { class: 'tool-label' }, 'Arguments'),
        h('pre', { class: 'tool-args' }, argsText(args)),
        h('div', { class: 'tool-result-wrap' }),
      ),
    )
    this.#tools.set(id, card)
    this.#step(words.map((w) => (typeof w === 'string' ? w : w.textContent)).join('')).append(card)
  }

  #toolCompleted(event: Extract<RunEvent, { type: 'tool_completed' }>) {
    let card = this.#tools.get(event.toolCallId)
    if (!card) {
      this.#toolStarted(event.toolCallId, event.tool, undefined)
      card = this.#tools.get(event.toolCallId)!
    }
    card.dataset.state = event.ok ? 'ok' : 'error'
    const state = card.querySelector('.tool-state')!
    state.replaceChildren(
      icon(event.ok ? icons.check : icons.alert),
      event.ok ? `done · ${formatDuration(event.durationMs)}` : `failed · ${formatDuration(event.durationMs)}`,
    )
    const wrap = card.querySelector('.tool-result-wrap')!
    const error =
      typeof event.error === 'string'
        ? event.error
        : event.error?.message
          ? `${event.error.message}${event.error.code ? ` (${event.error.code})` : ''}`
          : undefined
    wrap.replaceChildren(
      h('div', { class: 'tool-label' }, event.ok ? 'Result' : 'Error'),
      event.ok
        ? resultView(event.result)
        : h('pre', { class: 'tool-error' }, error ?? prettyJson(event.error ?? 'failed')),
    )
  }

  #complete(event: Extract<RunEvent, { type: 'agent_completed' }>) {
    this.done = true
    this.status = event.status
    this.#indicator.hidden = true
    if (this.#steps) {
      // Done: the steps fold into one line; the answer is what remains in view.
      this.#steps.el.open = false
      const n = this.#steps.names.length
      this.#steps.live.textContent = `${n} step${n === 1 ? '' : 's'} · ${[...new Set(this.#steps.names)].join(', ')}`
    }
    for (const card of this.#tools.values()) {
      if (card.dataset.state === 'running') {
        card.dataset.state = 'error'
        card.querySelector('.tool-state')!.textContent = 'interrupted'
      }
    }
    // Nothing streamed (e.g. a failure before the answer): show the stored answer, if any.
    if (!this.#streamed && event.message?.content) this.#appendAnswer(event.message.content)
    this.flush()
    // The server removed citation markers it could not check: show its final text instead.
    const final = event.message?.content
    if (final !== undefined && event.message?.citations && final !== this.#streamed) {
      for (const block of this.#blocks.querySelectorAll('.answer')) block.remove()
      const answer = h('div', { class: 'answer markdown' })
      setMarkdown(answer, final)
      this.#blocks.append(answer)
    }
    const sources = sourcesView(event.message?.citations ?? [])
    if (sources) this.#blocks.append(sources)
    this.el.setAttribute('aria-busy', 'false')
    this.el.dataset.status = event.status
    const took =
      this.#startedAt && Date.parse(event.ts) ? ` · ${formatDuration(Date.parse(event.ts) - this.#startedAt)}` : ''
    if (event.status === 'completed') {
      this.#statusEl.replaceChildren(icon(icons.check), `Completed${took}`)
    } else {
      this.#statusEl.replaceChildren(...outcomeContent(event.status, event.error))
    }
    this.#statusEl.className = `run-status status-${event.status}`
  }

  /** A finished answer from the thread history (no events at hand), with how it ended. */
  static fromMessage(
    message: {
      content: string
      agent?: string
      runId?: string
      status?: string
      error?: { code: string; message: string }
      citations?: Citation[]
    },
    agentName: AgentNamer,
  ): HTMLElement {
    const status = message.status ?? 'completed'
    const blocks = h('div', { class: 'run-blocks' })
    if (message.content) {
      const answer = h('div', { class: 'answer markdown' })
      renderAnswer(answer, message.content)
      blocks.append(answer)
    }
    const sources = sourcesView(message.citations ?? [])
    if (sources) blocks.append(sources)
    return h(
      'article',
      { class: 'turn turn-assistant', dataset: { runId: message.runId, status }, 'aria-label': 'Assistant answer' },
      h(
        'div',
        { class: 'turn-meta' },
        h('span', { class: 'agent-badge' }, message.agent ? agentName(message.agent) : 'Assistant'),
      ),
      blocks,
      status === 'completed'
        ? null
        : h('div', { class: `run-status status-${status}`, role: 'status' }, ...outcomeContent(status, message.error)),
    )
  }
}

function renderAnswer(el: HTMLElement, text: string) {
  setMarkdown(el, text)
  enhanceCodeBlocks(el)
}

/** What a person needs to know about a failure, in plain words; the operator's hint is behind "Details". */
function plainFailure(code: string | undefined): string {
  switch (code) {
    case ERROR_CODES.llmUnavailable:
      return 'The AI model is not reachable right now. Try again in a moment.'
    case ERROR_CODES.timeout:
      return 'This took too long and was stopped.'
    case ERROR_CODES.serverRestart:
    case ERROR_CODES.serverShutdown:
    case ERROR_CODES.nodeLost:
      return 'The server restarted before this answer was finished.'
    case ERROR_CODES.quotaExceeded:
      return 'You have reached your usage limit for now.'
    default:
      return 'Something went wrong while answering.'
  }
}

/** The status line of a run that did not complete: Cancelled, or Failed with one plain sentence. */
function outcomeContent(status: string, error: { code?: string; message?: string } | undefined): Node[] {
  if (status === 'cancelled') return [icon(icons.stop), h('span', null, 'Cancelled')]
  const details = error?.message
    ? h('details', { class: 'failure-details' }, h('summary', null, 'Details'), h('p', null, error.message))
    : null
  return [
    icon(icons.alert),
    h(
      'span',
      { class: 'failure' },
      h('span', { class: 'failure-text' }, `Failed: ${plainFailure(error?.code)}`),
      details,
    ),
  ]
}

const quoted = (value: unknown) => (typeof value === 'string' && value.trim() ? `“${value.trim().slice(0, 60)}”` : '')
const list = (value: unknown) => (Array.isArray(value) ? value.filter((v) => typeof v === 'string').join(', ') : '')

/** A tool call as a person would say it: "Queried *sales* by region". The raw call is in the details. */
export function toolInWords(tool: string, args: unknown): (string | HTMLElement)[] {
  const a = (args && typeof args === 'object' ? args : {}) as Record<string, any>
  switch (tool) {
    case 'list_datasets':
      return ['Looked at your datasets']
    case 'query_dataset': {
      const agg = a.aggregate && typeof a.aggregate === 'object' ? a.aggregate : undefined
      const what = agg?.fn
        ? ` (${agg.fn === 'count' ? 'counted rows' : `${{ sum: 'total', avg: 'average', min: 'lowest', max: 'highest' }[agg.fn as string] ?? agg.fn} ${agg.column ?? ''}`.trim()})`
        : ''
      const by = list(a.groupBy)
      return ['Queried ', h('em', null, String(a.dataset ?? 'a dataset')), by ? ` by ${by}` : '', what].filter(
        Boolean,
      ) as (string | HTMLElement)[]
    }
    case 'calculate':
      return [`Calculated ${typeof a.expression === 'string' ? a.expression.slice(0, 60) : ''}`.trim()]
    case 'current_time':
      return [`Checked the time${typeof a.timezone === 'string' ? ` in ${a.timezone}` : ''}`]
    case 'save_note':
      return [`Saved a note ${quoted(a.title)}`.trim()]
    case 'search_notes':
      return [`Searched your notes for ${quoted(a.query)}`.trim()]
    case 'search_history':
      return [`Searched your past chats for ${quoted(a.query)}`.trim()]
    case 'search_documents':
      return [`Searched your documents for ${quoted(a.query)}`.trim()]
    default:
      return [`Used ${tool.replace(/[_-]+/g, ' ')}`]
  }
}

/** One line per argument: `groupBy: ["region"]`. */
function argsText(args: unknown): string {
  if (!args || typeof args !== 'object' || Array.isArray(args)) return prettyJson(args ?? {})
  const entries = Object.entries(args as Record<string, unknown>)
  if (entries.length === 0) return '(none)'
  return entries.map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join('\n')
}

/** A tabular result (`{columns, rows}`) as a small table, anything else as JSON. */
function resultView(result: unknown): HTMLElement {
  const r = result as { columns?: unknown; rows?: unknown }
  if (r && Array.isArray(r.columns) && Array.isArray(r.rows) && r.columns.every((c) => typeof c === 'string')) {
    const columns = r.columns as string[]
    const rows = (r.rows as unknown[]).slice(0, 20)
    return h(
      'div',
      { class: 'tool-result tool-table-wrap' },
      h(
        'table',
        { class: 'data-table tool-table' },
        tableHead(columns),
        tableBody(rows, columns, {
          text: (v) => (typeof v === 'number' ? v.toLocaleString() : v == null ? '' : String(v)),
          numeric: (v) => typeof v === 'number',
        }),
      ),
      (r.rows as unknown[]).length > rows.length
        ? h('p', { class: 'muted' }, `… ${(r.rows as unknown[]).length - rows.length} more rows`)
        : null,
    )
  }
  return h('pre', { class: 'tool-result' }, prettyJson(result))
}

/** Statuses that do not start a new step: the answer streamed before them goes on after them. */
function continuesAnswer(status: string | undefined): boolean {
  return status === 'resumed' || !!status?.startsWith('queued')
}

/** "reading tool results" → "Reading tool results…" */
function statusText(status: string): string {
  if (status === 'resumed') return 'Resumed after a server restart…'
  const text = status.trim()
  return text ? `${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.…!?]$/.test(text) ? '' : '…'}` : 'Thinking…'
}

export function userBubble(content: string): HTMLElement {
  return h('article', { class: 'turn turn-user', 'aria-label': 'Your message' }, h('div', { class: 'bubble' }, content))
}
