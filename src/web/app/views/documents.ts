/**
 * Documents: upload .txt, .md, .html or .pdf files, watch each one's ingestion on a progress bar
 * (live from `document_status` frames), see ready/failed, delete. The researcher answers from them.
 */
import type { ControlFrame } from '../../../protocol'
import type { DocumentInfo } from '../../client/types'
import type { AppContext, View } from '../context'
import { clear, h, icon, icons } from '../dom'
import { cardForm, field, FormProblem } from './kit/form'
import { deleteButton, focusFirst } from './kit/list'
import { loadReporting, pageSection, sectionHeading, statusLine } from './kit/page'

const ACCEPT = '.txt,.md,.markdown,.html,.htm,.pdf,text/plain,text/markdown,text/html,application/pdf'
/** The server's default DOCUMENT_MAX_BYTES; the server has the last word. */
const MAX_BYTES = 20 * 1024 * 1024

const sizeText = (bytes: number) =>
  bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1024))} KB`

export class DocumentsView implements View {
  readonly el: HTMLElement
  #list: HTMLUListElement
  #status: HTMLElement
  #items = new Map<string, HTMLLIElement>()
  #documents = new Map<string, DocumentInfo>()
  #unsubscribe: () => void

  constructor(private readonly ctx: AppContext) {
    const file = h('input', {
      id: 'document-file',
      name: 'file',
      type: 'file',
      accept: ACCEPT,
      multiple: true,
      required: true,
    }) as HTMLInputElement
    const form: HTMLFormElement = cardForm({
      class: 'document-form',
      label: 'Upload documents',
      body: [field('Files (.txt, .md, .html, .pdf)', file)],
      submit: 'Upload',
      busy: 'Uploading…',
      failure: 'Could not upload',
      send: async () => {
        const files = [...(file.files ?? [])]
        if (files.length === 0) throw new FormProblem('Choose one or more files.', file)
        const tooBig = files.find((f) => f.size > MAX_BYTES)
        if (tooBig) throw new FormProblem(`${tooBig.name} is larger than 20 MB.`)
        // Each file on its own: one that fails does not keep the others out.
        const failed: string[] = []
        for (const f of files) {
          try {
            const document = await ctx.api.uploadDocument(f)
            this.#upsert(document)
            ctx.announce(`${document.name} uploaded; processing.`)
          } catch (err) {
            failed.push(`${f.name}: ${(err as Error).message}`)
          }
        }
        if (failed.length) throw new FormProblem(`Could not upload ${failed.join('; ')}`)
        form.reset()
      },
    })
    this.#list = h('ul', { class: 'document-list', 'aria-label': 'Your documents' })
    this.#status = statusLine()
    this.el = pageSection(
      {
        class: 'documents-page',
        headingId: 'documents-heading',
        title: 'Documents',
        intro:
          'Upload your documents, then ask the researcher about them in a chat. Answers cite the passages they use.',
      },
      form,
      sectionHeading('Your documents'),
      this.#status,
      this.#list,
    )
    // Live progress: the server tells this user's sockets how each document moves.
    this.#unsubscribe = ctx.socket.onFrame((frame: ControlFrame) => {
      if (frame.type === 'document_status') this.#upsert(frame.document)
    })
    void this.#load()
  }

  async #load() {
    await loadReporting(this.#status, 'documents', async () => {
      const documents = await this.ctx.api.documents()
      clear(this.#list)
      this.#items.clear()
      for (const d of documents) this.#upsert(d, 'end') // the API lists newest first
      this.#updateStatus()
    })
  }

  #updateStatus() {
    this.#status.textContent = this.#items.size ? '' : 'No documents yet.'
  }

  /** Adds or updates one document's row (a new one at the top); an update older than the shown one is ignored. */
  #upsert(d: DocumentInfo, place: 'start' | 'end' = 'start') {
    const known = this.#documents.get(d.id)
    if (known?.updatedAt && d.updatedAt && Date.parse(d.updatedAt) < Date.parse(known.updatedAt)) return
    this.#documents.set(d.id, d)
    const row = this.#row(d)
    const existing = this.#items.get(d.id)
    if (existing) existing.replaceWith(row)
    else if (place === 'end') this.#list.append(row)
    else this.#list.prepend(row)
    this.#items.set(d.id, row)
    if (known && known.status === 'processing' && d.status !== 'processing')
      this.ctx.announce(
        d.status === 'ready' ? `${d.name} is ready.` : `${d.name} failed: ${d.error ?? 'unknown error'}`,
      )
    this.#updateStatus()
  }

  #row(d: DocumentInfo): HTMLLIElement {
    const percent = Math.round((d.progress ?? 0) * 100)
    const bar = h('progress', {
      class: 'document-progress',
      max: '100',
      value: String(percent),
      'aria-label': `Processing ${d.name}`,
      'aria-valuetext': `${percent}%`,
    }) as HTMLProgressElement
    bar.value = percent
    const state =
      d.status === 'processing'
        ? h('span', { class: 'document-state' }, bar, h('span', { class: 'muted' }, `${percent}%`))
        : d.status === 'ready'
          ? h(
              'span',
              { class: 'document-state state-ready' },
              icon(icons.check),
              `Ready · ${d.chunks} passage${d.chunks === 1 ? '' : 's'}`,
            )
          : h(
              'span',
              { class: 'document-state state-failed' },
              icon(icons.alert),
              `Failed: ${d.error ?? 'unknown error'}`,
            )
    const del = deleteButton(this.ctx, 'document', d.name, async () => {
      await this.ctx.api.deleteDocument(d.id)
      this.#items.get(d.id)?.remove()
      this.#items.delete(d.id)
      this.#documents.delete(d.id)
      this.#updateStatus()
      this.ctx.announce(`Document ${d.name} deleted.`)
      focusFirst(this.#list.querySelector('.delete-document'), this.el.querySelector('#document-file'))
    })
    return h(
      'li',
      { class: 'card document-item', dataset: { documentId: d.id, status: d.status } },
      h(
        'div',
        { class: 'document-main' },
        icon(icons.notes),
        h('span', { class: 'document-name' }, d.name),
        h('span', { class: 'muted' }, sizeText(d.bytes)),
        state,
      ),
      del,
    )
  }

  dispose() {
    this.#unsubscribe()
  }
}
