/**
 * Search in the sidebar (Ctrl/Cmd+K): the user's own messages and chat titles, best match
 * first, matches marked. A result is a link to its message in its thread and branch.
 */
import type { Api } from '../../client/api'
import type { SearchResult } from '../../client/types'
import { h, icon, icons } from '../dom'

export class SearchBox {
  readonly el: HTMLElement
  readonly input: HTMLInputElement
  #results: HTMLUListElement
  #more: HTMLButtonElement
  #status: HTMLElement
  #timer: ReturnType<typeof setTimeout> | undefined
  #abort: AbortController | undefined
  #cursor: string | null = null
  #query = ''

  constructor(
    private readonly api: Api,
    private readonly hooks: { onActive(active: boolean): void },
  ) {
    this.input = h('input', {
      type: 'search',
      id: 'search-input',
      class: 'search-input',
      placeholder: 'Search chats (Ctrl K)',
      autocomplete: 'off',
      'aria-controls': 'search-results',
    }) as HTMLInputElement
    this.input.addEventListener('input', () => this.#schedule())
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        this.clear()
      } else if (e.key === 'ArrowDown') {
        e.preventDefault()
        this.#results.querySelector<HTMLElement>('a')?.focus()
      }
    })
    this.#results = h('ul', { class: 'search-results', id: 'search-results', 'aria-label': 'Search results' })
    this.#results.addEventListener('keydown', (e) => {
      const links = [...this.#results.querySelectorAll<HTMLElement>('a')]
      const i = links.indexOf(e.target as HTMLElement)
      if (e.key === 'ArrowDown') links[i + 1]?.focus()
      else if (e.key === 'ArrowUp') (links[i - 1] ?? this.input).focus()
      else if (e.key === 'Escape') this.clear()
      else return
      e.preventDefault()
    })
    this.#status = h('p', { class: 'search-status muted', role: 'status' })
    this.#more = h('button', { type: 'button', class: 'btn-link search-more' }, 'More results')
    this.#more.hidden = true
    this.#more.addEventListener('click', () => void this.#load(true))
    const panel = h('div', { class: 'search-panel' }, this.#status, this.#results, this.#more)
    panel.hidden = true
    this.el = h(
      'div',
      { class: 'search', role: 'search' },
      h(
        'label',
        { for: 'search-input', class: 'search-label' },
        icon(icons.search),
        h('span', { class: 'sr-only' }, 'Search chats'),
      ),
      this.input,
      panel,
    )
  }

  get active(): boolean {
    return this.#query !== ''
  }

  focus() {
    this.input.focus()
    this.input.select()
  }

  clear() {
    this.input.value = ''
    this.#schedule(0)
  }

  #schedule(delay = 200) {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => void this.#load(false), delay)
  }

  async #load(more: boolean) {
    const query = this.input.value.trim()
    const panel = this.#results.parentElement!
    if (!more) {
      this.#query = query
      this.#cursor = null
      this.#results.replaceChildren()
    }
    panel.hidden = !query
    this.hooks.onActive(!!query)
    if (!query) return
    this.#abort?.abort()
    const abort = (this.#abort = new AbortController())
    this.#status.textContent = 'Searching…'
    try {
      const page = await this.api.search(query, { cursor: more ? this.#cursor : null, signal: abort.signal })
      if (abort.signal.aborted || query !== this.#query) return
      for (const r of page.results) this.#results.append(resultItem(r))
      this.#cursor = page.nextCursor
      this.#more.hidden = !page.nextCursor
      const count = this.#results.children.length
      this.#status.textContent = count
        ? `${count}${page.nextCursor ? '+' : ''} result${count === 1 ? '' : 's'}`
        : 'Nothing found'
    } catch (error) {
      if (abort.signal.aborted) return
      this.#status.textContent = `Search failed: ${(error as Error).message}`
    }
  }
}

/** The snippet with its highlight ranges as <mark> (text nodes only, never HTML). */
export function markedSnippet(snippet: string, highlights: [number, number][]): Node[] {
  const nodes: Node[] = []
  let at = 0
  for (const [start, end] of [...highlights].sort((a, b) => a[0] - b[0])) {
    if (start < at || end > snippet.length || end <= start) continue
    if (start > at) nodes.push(document.createTextNode(snippet.slice(at, start)))
    nodes.push(h('mark', null, snippet.slice(start, end)))
    at = end
  }
  if (at < snippet.length) nodes.push(document.createTextNode(snippet.slice(at)))
  return nodes
}

function resultItem(r: SearchResult): HTMLLIElement {
  const href = r.messageId
    ? `#/c/${encodeURIComponent(r.threadId)}/${encodeURIComponent(r.messageId)}`
    : `#/c/${encodeURIComponent(r.threadId)}`
  const who = r.role === 'user' ? 'You' : r.role === 'assistant' ? 'Answer' : 'Title'
  return h(
    'li',
    { class: 'search-result' },
    h(
      'a',
      { href, class: 'search-link', dataset: { threadId: r.threadId, messageId: r.messageId ?? undefined } },
      h('span', { class: 'search-thread' }, r.threadTitle),
      h(
        'span',
        { class: 'search-snippet' },
        h('span', { class: 'search-who' }, `${who}: `),
        ...markedSnippet(r.snippet, r.highlights),
      ),
    ),
  )
}
