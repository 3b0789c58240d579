/**
 * The sidebar's thread list: pinned first, then newest, paged in as the list scrolls (never
 * all at once), with pin, rename, archive and delete in place. Each row is one Tab stop (its
 * link); the arrow keys move between rows (↑ ↓) and into a row's actions (→ ←).
 */
import type { Api } from '../../client/api'
import type { Thread } from '../../client/types'
import { clear, formatTime, h, icon, icons } from '../dom'

const PAGE_SIZE = 50

export class ThreadList {
  readonly el: HTMLElement
  #list: HTMLUListElement
  #heading: HTMLElement
  #toggle: HTMLButtonElement
  #sentinel: HTMLElement
  #threads: Thread[] = []
  #cursor: string | null = null
  #loading = false
  #archived = false
  #current: string | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #editing: string | undefined
  #observer: IntersectionObserver | undefined

  constructor(
    private readonly api: Api,
    private readonly hooks: { onDeleted(threadId: string): void; onError(text: string): void },
  ) {
    this.#list = h('ul', { class: 'thread-list' })
    this.#list.addEventListener('keydown', (e) => this.#onKey(e))
    this.#heading = h('h2', { class: 'sidebar-heading', id: 'threads-heading' }, 'Chats')
    this.#sentinel = h('div', { class: 'thread-sentinel', 'aria-hidden': 'true' })
    this.#toggle = h('button', { type: 'button', class: 'btn-link archived-toggle' }, 'Archived chats')
    this.#toggle.addEventListener('click', () => this.showArchived(!this.#archived))
    this.el = h(
      'nav',
      { class: 'threads', 'aria-labelledby': 'threads-heading' },
      this.#heading,
      this.#list,
      this.#sentinel,
      h('p', { class: 'archived-row' }, this.#toggle),
    )
    if (typeof IntersectionObserver !== 'undefined') {
      this.#observer = new IntersectionObserver(
        (entries) => {
          if (entries.some((e) => e.isIntersecting)) void this.loadMore()
        },
        { root: this.el, rootMargin: '200px' },
      )
      this.#observer.observe(this.#sentinel)
    }
  }

  get threads(): Thread[] {
    return this.#threads
  }

  get archivedMode(): boolean {
    return this.#archived
  }

  showArchived(on: boolean) {
    this.#archived = on
    this.#heading.textContent = on ? 'Archived chats' : 'Chats'
    this.#toggle.textContent = on ? 'Back to chats' : 'Archived chats'
    void this.refresh()
  }

  setCurrent(threadId: string | undefined) {
    this.#current = threadId
    for (const li of this.#list.querySelectorAll<HTMLLIElement>('.thread-item')) {
      const link = li.querySelector('a')
      if (li.dataset.threadId === threadId) link?.setAttribute('aria-current', 'page')
      else link?.removeAttribute('aria-current')
      li.classList.toggle('current', li.dataset.threadId === threadId)
    }
  }

  /** Debounced reload (many events may ask at once). */
  refreshSoon(delay = 150) {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => void this.refresh(), delay)
  }

  /** Reloads from the first page (as many rows as are shown now, within one page's limit). */
  async refresh() {
    try {
      const limit = Math.min(200, Math.max(PAGE_SIZE, this.#threads.length))
      const page = await this.api.threadPage({ limit, archived: this.#archived })
      this.#threads = page.items
      this.#cursor = page.nextCursor
      if (!this.#editing) this.#render()
    } catch (error) {
      this.hooks.onError(`Could not load your chats: ${(error as Error).message}`)
    }
  }

  /** The next page, when the end of the list scrolls into view. */
  async loadMore() {
    if (!this.#cursor || this.#loading) return
    this.#loading = true
    try {
      const page = await this.api.threadPage({ cursor: this.#cursor, limit: PAGE_SIZE, archived: this.#archived })
      const known = new Set(this.#threads.map((t) => t.id))
      const fresh = page.items.filter((t) => !known.has(t.id))
      this.#threads.push(...fresh)
      this.#cursor = page.nextCursor
      if (!this.#editing) for (const t of fresh) this.#list.append(this.#item(t))
      this.setCurrent(this.#current)
    } catch (error) {
      this.hooks.onError(`Could not load more chats: ${(error as Error).message}`)
    } finally {
      this.#loading = false
    }
  }

  #render() {
    const focused = document.activeElement
    const focusKey =
      focused instanceof HTMLElement && this.#list.contains(focused)
        ? `${focused.closest('li')?.dataset.threadId}|${focused.className}`
        : undefined
    clear(this.#list)
    if (this.#threads.length === 0) {
      this.#list.append(h('li', { class: 'thread-empty muted' }, this.#archived ? 'No archived chats' : 'No chats yet'))
      return
    }
    for (const t of this.#threads) this.#list.append(this.#item(t))
    this.setCurrent(this.#current)
    if (focusKey) {
      const [id, cls] = focusKey.split('|')
      const again = [...this.#list.querySelectorAll<HTMLElement>(`li[data-thread-id] *`)].find(
        (el) => el.closest('li')?.dataset.threadId === id && el.className === cls,
      )
      again?.focus()
    }
  }

  #item(t: Thread): HTMLLIElement {
    const li = h('li', { class: `thread-item${t.pinned ? ' pinned' : ''}`, dataset: { threadId: t.id } })
    const link = h(
      'a',
      { class: 'thread-link', href: `#/c/${encodeURIComponent(t.id)}`, title: t.title },
      t.pinned ? h('span', { class: 'pin-mark' }, icon(icons.pin, 'Pinned')) : null,
      h('span', { class: 'thread-title' }, t.title),
      h('span', { class: 'thread-time' }, formatTime(t.updatedAt)),
    )
    // Actions are reached with → from the link, so the row stays one Tab stop. Each is named by
    // what a click does now ("Unpin") and the thread's title.
    const action = (cls: string, title: string, svg: string, run: () => void) => {
      const b = h(
        'button',
        { type: 'button', class: `icon-btn ${cls}`, 'aria-label': `${title} “${t.title}”`, title, tabindex: '-1' },
        icon(svg),
      )
      b.addEventListener('click', run)
      return b
    }
    /** Pin and archive flip a flag of the thread; the button says which way ("Pin" or "Unpin"). */
    const flip = (cls: string, flag: 'pinned' | 'archived', verb: string, svg: string) =>
      action(cls, t[flag] ? `Un${verb.toLowerCase()}` : verb, svg, () => void this.#update(t, { [flag]: !t[flag] }))
    const pin = flip('pin-btn', 'pinned', 'Pin', icons.pin)
    const rename = action('rename-btn', 'Rename', icons.pencil, () => this.#startRename(li, t))
    const archive = flip('archive-btn', 'archived', 'Archive', icons.archive)
    const del = action('delete-btn', 'Delete', icons.trash, () => this.#confirmDelete(li, t))
    li.append(link, h('div', { class: 'thread-actions' }, pin, rename, archive, del))
    return li
  }

  /** ↑/↓ between rows, →/← through a row's link and actions, Home/End to the ends. */
  #onKey(e: KeyboardEvent) {
    const target = e.target as HTMLElement
    const li = target.closest<HTMLLIElement>('li.thread-item')
    if (!li || target.tagName === 'INPUT') return
    const rows = [...this.#list.querySelectorAll<HTMLLIElement>('li.thread-item')]
    const stops = [
      li.querySelector<HTMLElement>('.thread-link'),
      ...li.querySelectorAll<HTMLElement>('.thread-actions button'),
    ].filter(Boolean) as HTMLElement[]
    const index = rows.indexOf(li)
    const focusRow = (i: number) =>
      rows[Math.max(0, Math.min(rows.length - 1, i))]?.querySelector<HTMLElement>('.thread-link')?.focus()
    switch (e.key) {
      case 'ArrowDown':
        focusRow(index + 1)
        break
      case 'ArrowUp':
        focusRow(index - 1)
        break
      case 'Home':
        focusRow(0)
        break
      case 'End':
        focusRow(rows.length - 1)
        break
      case 'ArrowRight':
        stops[Math.min(stops.length - 1, stops.indexOf(target) + 1)]?.focus()
        break
      case 'ArrowLeft':
        stops[Math.max(0, stops.indexOf(target) - 1)]?.focus()
        break
      default:
        return
    }
    e.preventDefault()
  }

  async #update(t: Thread, changes: { pinned?: boolean; archived?: boolean }) {
    try {
      await this.api.updateThread(t.id, changes)
      await this.refresh()
      this.#list.querySelector<HTMLElement>(`li[data-thread-id="${CSS.escape(t.id)}"] .thread-link`)?.focus()
    } catch (error) {
      this.hooks.onError(`Could not update the chat: ${(error as Error).message}`)
    }
  }

  #startRename(li: HTMLLIElement, t: Thread) {
    this.#editing = t.id
    const input = h('input', {
      class: 'rename-input',
      value: t.title,
      maxlength: '200',
      'aria-label': `New title for “${t.title}”`,
    }) as HTMLInputElement
    let done = false
    const finish = async (save: boolean) => {
      if (done) return
      done = true
      this.#editing = undefined
      const title = input.value.trim()
      if (save && title && title !== t.title) {
        try {
          const updated = await this.api.renameThread(t.id, title)
          t.title = updated.title
        } catch (error) {
          this.hooks.onError(`Could not rename: ${(error as Error).message}`)
        }
      }
      this.#render()
      this.#list.querySelector<HTMLElement>(`li[data-thread-id="${CSS.escape(t.id)}"] .rename-btn`)?.focus()
      if (save) void this.refresh()
    }
    const form = h('form', { class: 'rename-form' }, input)
    form.addEventListener('submit', (e) => {
      e.preventDefault()
      void finish(true)
    })
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.preventDefault()
        void finish(false)
      }
    })
    input.addEventListener('blur', () => void finish(true))
    li.replaceChildren(form)
    input.focus()
    input.select()
  }

  #confirmDelete(li: HTMLLIElement, t: Thread) {
    this.#editing = t.id
    const cancel = h('button', { type: 'button', class: 'btn btn-small' }, 'Cancel')
    const confirm = h('button', { type: 'button', class: 'btn btn-small btn-danger confirm-delete' }, 'Delete')
    const restore = () => {
      this.#editing = undefined
      this.#render()
      this.#list.querySelector<HTMLElement>(`li[data-thread-id="${CSS.escape(t.id)}"] .delete-btn`)?.focus()
    }
    cancel.addEventListener('click', restore)
    confirm.addEventListener('click', async () => {
      confirm.disabled = cancel.disabled = true
      try {
        await this.api.deleteThread(t.id)
        this.#threads = this.#threads.filter((x) => x.id !== t.id)
        this.#editing = undefined
        this.#render()
        this.hooks.onDeleted(t.id)
        ;(
          this.#list.querySelector<HTMLElement>('.thread-link') ?? document.querySelector<HTMLElement>('.new-chat')
        )?.focus()
      } catch (error) {
        this.hooks.onError(`Could not delete: ${(error as Error).message}`)
        restore()
      }
    })
    li.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') restore()
    })
    li.replaceChildren(
      h(
        'div',
        { class: 'confirm-row', role: 'group', 'aria-label': `Delete “${t.title}”?` },
        h('span', { class: 'confirm-text' }, 'Delete this chat?'),
        confirm,
        cancel,
      ),
    )
    confirm.focus()
  }
}
