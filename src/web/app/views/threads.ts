/** The sidebar's thread list: newest first, with rename and delete in place. */
import type { Api } from '../../client/api'
import type { Thread } from '../../client/types'
import { clear, formatTime, h, icon, icons } from '../dom'

export class ThreadList {
  readonly el: HTMLElement
  #list: HTMLUListElement
  #threads: Thread[] = []
  #current: string | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #editing: string | undefined

  constructor(
    private readonly api: Api,
    private readonly hooks: { onDeleted(threadId: string): void; onError(text: string): void },
  ) {
    this.#list = h('ul', { class: 'thread-list' })
    this.el = h('nav', { class: 'threads', 'aria-label': 'Chats' }, h('h2', { class: 'sidebar-heading' }, 'Chats'), this.#list)
  }

  get threads(): Thread[] {
    return this.#threads
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

  async refresh() {
    try {
      const threads = await this.api.threads()
      threads.sort((a, b) => (b.updatedAt ?? b.createdAt).localeCompare(a.updatedAt ?? a.createdAt))
      this.#threads = threads
      if (!this.#editing) this.#render()
    } catch (error) {
      this.hooks.onError(`Could not load your chats: ${(error as Error).message}`)
    }
  }

  #render() {
    const focused = document.activeElement
    const focusKey = focused instanceof HTMLElement && this.#list.contains(focused) ? `${focused.closest('li')?.dataset.threadId}|${focused.className}` : undefined
    clear(this.#list)
    if (this.#threads.length === 0) {
      this.#list.append(h('li', { class: 'thread-empty muted' }, 'No chats yet'))
      return
    }
    for (const t of this.#threads) this.#list.append(this.#item(t))
    this.setCurrent(this.#current)
    if (focusKey) {
      const [id, cls] = focusKey.split('|')
      const again = [...this.#list.querySelectorAll<HTMLElement>(`li[data-thread-id] *`)].find((el) => el.closest('li')?.dataset.threadId === id && el.className === cls)
      again?.focus()
    }
  }

  #item(t: Thread): HTMLLIElement {
    const li = h('li', { class: 'thread-item', dataset: { threadId: t.id } })
    const link = h('a', { class: 'thread-link', href: `#/c/${encodeURIComponent(t.id)}`, title: t.title }, h('span', { class: 'thread-title' }, t.title), h('span', { class: 'thread-time' }, formatTime(t.updatedAt)))
    const rename = h('button', { type: 'button', class: 'icon-btn rename-btn', 'aria-label': `Rename “${t.title}”`, title: 'Rename' }, icon(icons.pencil))
    const del = h('button', { type: 'button', class: 'icon-btn delete-btn', 'aria-label': `Delete “${t.title}”`, title: 'Delete' }, icon(icons.trash))
    rename.addEventListener('click', () => this.#startRename(li, t))
    del.addEventListener('click', () => this.#confirmDelete(li, t))
    li.append(link, h('div', { class: 'thread-actions' }, rename, del))
    return li
  }

  #startRename(li: HTMLLIElement, t: Thread) {
    this.#editing = t.id
    const input = h('input', { class: 'rename-input', value: t.title, maxlength: '200', 'aria-label': `New title for “${t.title}”` }) as HTMLInputElement
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
        ;(this.#list.querySelector<HTMLElement>('.thread-link') ?? document.querySelector<HTMLElement>('.new-chat'))?.focus()
      } catch (error) {
        this.hooks.onError(`Could not delete: ${(error as Error).message}`)
        restore()
      }
    })
    li.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') restore()
    })
    li.replaceChildren(h('div', { class: 'confirm-row', role: 'group', 'aria-label': `Delete “${t.title}”?` }, h('span', { class: 'confirm-text' }, 'Delete this chat?'), confirm, cancel))
    confirm.focus()
  }
}
