/**
 * Documents: upload .txt, .md, .html or .pdf files, watch each one's ingestion on a progress bar
 * (live from `document_status` frames), see ready/failed, delete. The researcher answers from them.
 */
import type { ControlFrame } from '../../../protocol'
import type { DocumentInfo } from '../../client/types'
import type { AppContext, View } from '../context'
import { clear, h, icon, icons } from '../dom'

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
    const error = h('p', { class: 'form-error', role: 'alert' })
    const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Upload')
    const form = h(
      'form',
      { class: 'card document-form', 'aria-label': 'Upload documents', novalidate: true },
      h('div', { class: 'field' }, h('label', { for: 'document-file' }, 'Files (.txt, .md, .html, .pdf)'), file),
      error,
      h('div', { class: 'form-actions' }, submit),
    )
    form.addEventListener('submit', async (e) => {
      e.preventDefault()
      error.textContent = ''
      const files = [...(file.files ?? [])]
      if (files.length === 0) {
        error.textContent = 'Choose one or more files.'
        file.focus()
        return
      }
      const tooBig = files.find((f) => f.size > MAX_BYTES)
      if (tooBig) {
        error.textContent = `${tooBig.name} is larger than 20 MB.`
        return
      }
      submit.disabled = true
      submit.textContent = 'Uploading…'
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
      if (failed.length) error.textContent = `Could not upload ${failed.join('; ')}`
      else form.reset()
      submit.disabled = false
      submit.textContent = 'Upload'
    })
    this.#list = h('ul', { class: 'document-list', 'aria-label': 'Your documents' })
    this.#status = h('p', { class: 'muted', role: 'status' }, 'Loading…')
    this.el = h(
      'section',
      { class: 'page documents-page', 'aria-labelledby': 'documents-heading' },
      h('h1', { id: 'documents-heading' }, 'Documents'),
      h(
        'p',
        { class: 'muted page-intro' },
        'Upload your documents, then ask the researcher about them in a chat. Answers cite the passages they use.',
      ),
      form,
      h('h2', { class: 'section-heading' }, 'Your documents'),
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
    try {
      const documents = await this.ctx.api.documents()
      clear(this.#list)
      this.#items.clear()
      for (const d of documents) this.#upsert(d, 'end') // the API lists newest first
      this.#updateStatus()
    } catch (err) {
      this.#status.textContent = `Could not load documents: ${(err as Error).message}`
    }
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
    const del = h(
      'button',
      {
        type: 'button',
        class: 'icon-btn delete-document',
        'aria-label': `Delete document “${d.name}”`,
        title: 'Delete',
      },
      icon(icons.trash),
    )
    del.addEventListener('click', async () => {
      del.disabled = true
      try {
        await this.ctx.api.deleteDocument(d.id)
        this.#items.get(d.id)?.remove()
        this.#items.delete(d.id)
        this.#documents.delete(d.id)
        this.#updateStatus()
        this.ctx.announce(`Document ${d.name} deleted.`)
        ;(
          this.#list.querySelector<HTMLElement>('.delete-document') ??
          this.el.querySelector<HTMLElement>('#document-file')
        )?.focus()
      } catch (err) {
        del.disabled = false
        this.ctx.toast(`Could not delete the document: ${(err as Error).message}`)
      }
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
