/** Notes: list, add, delete (the same notes the agents' note tools read and write). */
import type { Note } from '../../client/types'
import type { AppContext, View } from '../context'
import { clear, formatTime, h, icon, icons } from '../dom'

export class NotesView implements View {
  readonly el: HTMLElement
  #list: HTMLUListElement
  #status: HTMLElement

  constructor(private readonly ctx: AppContext) {
    const title = h('input', {
      id: 'note-title',
      name: 'title',
      required: true,
      maxlength: '200',
      autocomplete: 'off',
    }) as HTMLInputElement
    const body = h('textarea', { id: 'note-body', name: 'body', rows: '4' }) as HTMLTextAreaElement
    const error = h('p', { class: 'form-error', role: 'alert' })
    const submit = h(
      'button',
      { type: 'submit', class: 'btn btn-primary' },
      icon(icons.plus),
      h('span', null, 'Add note'),
    )
    const form = h(
      'form',
      { class: 'card note-form', 'aria-label': 'Add a note', novalidate: true },
      h('div', { class: 'field' }, h('label', { for: 'note-title' }, 'Title'), title),
      h('div', { class: 'field' }, h('label', { for: 'note-body' }, 'Text'), body),
      error,
      h('div', { class: 'form-actions' }, submit),
    )
    form.addEventListener('submit', async (e) => {
      e.preventDefault()
      error.textContent = ''
      if (!title.value.trim()) {
        error.textContent = 'Give the note a title.'
        title.focus()
        return
      }
      submit.disabled = true
      try {
        await ctx.api.addNote(title.value.trim(), body.value)
        title.value = ''
        body.value = ''
        ctx.announce('Note added.')
        await this.#load()
        title.focus()
      } catch (err) {
        error.textContent = `Could not add the note: ${(err as Error).message}`
      } finally {
        submit.disabled = false
      }
    })
    this.#list = h('ul', { class: 'note-list', 'aria-label': 'Your notes' })
    this.#status = h('p', { class: 'muted', role: 'status' }, 'Loading…')
    this.el = h(
      'section',
      { class: 'page notes-page', 'aria-labelledby': 'notes-heading' },
      h('h1', { id: 'notes-heading' }, 'Notes'),
      h('p', { class: 'muted page-intro' }, 'Your notes are also available to the notes assistant in chats.'),
      form,
      h('h2', { class: 'section-heading' }, 'Saved notes'),
      this.#status,
      this.#list,
    )
    void this.#load()
  }

  async #load() {
    try {
      const notes = await this.ctx.api.notes()
      notes.sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? ''))
      this.#render(notes)
    } catch (err) {
      this.#status.textContent = `Could not load notes: ${(err as Error).message}`
    }
  }

  #render(notes: Note[]) {
    clear(this.#list)
    this.#status.textContent = notes.length ? '' : 'No notes yet.'
    for (const n of notes) {
      const del = h(
        'button',
        { type: 'button', class: 'icon-btn delete-note', 'aria-label': `Delete note “${n.title}”`, title: 'Delete' },
        icon(icons.trash),
      )
      del.addEventListener('click', async () => {
        del.disabled = true
        try {
          await this.ctx.api.deleteNote(n.id)
          this.ctx.announce('Note deleted.')
          await this.#load()
          ;(
            this.#list.querySelector<HTMLElement>('.delete-note') ?? this.el.querySelector<HTMLElement>('#note-title')
          )?.focus()
        } catch (err) {
          del.disabled = false
          this.ctx.toast(`Could not delete the note: ${(err as Error).message}`)
        }
      })
      this.#list.append(
        h(
          'li',
          { class: 'card note-item', dataset: { noteId: n.id } },
          h(
            'div',
            { class: 'note-head' },
            h('h3', { class: 'note-title' }, n.title),
            h('time', { class: 'muted', datetime: n.createdAt }, formatTime(n.createdAt)),
            del,
          ),
          n.body ? h('p', { class: 'note-body' }, n.body) : null,
        ),
      )
    }
  }

  dispose() {}
}
