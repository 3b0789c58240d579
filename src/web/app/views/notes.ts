/** Notes: list, add, delete (the same notes the agents' note tools read and write). */
import type { Note } from '../../client/types'
import type { AppContext, View } from '../context'
import { clear, formatTime, h, icon, icons } from '../dom'
import { cardForm, field, FormProblem, nameInput } from './kit/form'
import { loadReporting, pageSection, sectionHeading, statusLine } from './kit/page'
import { deleteButton, focusFirst } from './kit/list'

export class NotesView implements View {
  readonly el: HTMLElement
  #list: HTMLUListElement
  #status: HTMLElement

  constructor(private readonly ctx: AppContext) {
    const title = nameInput('note-title', 'title', 200)
    const body = h('textarea', { id: 'note-body', name: 'body', rows: '4' }) as HTMLTextAreaElement
    const form = cardForm({
      class: 'note-form',
      label: 'Add a note',
      body: [field('Title', title), field('Text', body)],
      submit: [icon(icons.plus), h('span', null, 'Add note')],
      failure: 'Could not add the note',
      send: async () => {
        if (!title.value.trim()) throw new FormProblem('Give the note a title.', title)
        await ctx.api.addNote(title.value.trim(), body.value)
        title.value = ''
        body.value = ''
        ctx.announce('Note added.')
        await this.#load()
        title.focus()
      },
    })
    this.#list = h('ul', { class: 'note-list', 'aria-label': 'Your notes' })
    this.#status = statusLine()
    this.el = pageSection(
      {
        class: 'notes-page',
        headingId: 'notes-heading',
        title: 'Notes',
        intro: 'Your notes are also available to the notes assistant in chats.',
      },
      form,
      sectionHeading('Saved notes'),
      this.#status,
      this.#list,
    )
    void this.#load()
  }

  async #load() {
    await loadReporting(this.#status, 'notes', async () => {
      const notes = await this.ctx.api.notes()
      notes.sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? ''))
      this.#render(notes)
    })
  }

  #render(notes: Note[]) {
    clear(this.#list)
    this.#status.textContent = notes.length ? '' : 'No notes yet.'
    for (const n of notes) {
      const del = deleteButton(this.ctx, 'note', n.title, async () => {
        await this.ctx.api.deleteNote(n.id)
        this.ctx.announce('Note deleted.')
        await this.#load()
        focusFirst(this.#list.querySelector('.delete-note'), this.el.querySelector('#note-title'))
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
