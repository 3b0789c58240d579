/** Datasets: upload a CSV, see its columns with their types and its first rows, delete it. */
import type { Dataset } from '../../client/types'
import type { AppContext, View } from '../context'
import { append, clear, h, icon, icons } from '../dom'
import { cardForm, field, FormProblem, nameInput } from './kit/form'
import { deleteButton, focusFirst } from './kit/list'
import { loadReporting, pageSection, sectionHeading, statusLine } from './kit/page'
import { tableBody, tableHead } from './kit/table'

const MAX_BYTES = 5 * 1024 * 1024

export class DatasetsView implements View {
  readonly el: HTMLElement
  #list: HTMLUListElement
  #status: HTMLElement
  #detail: HTMLElement

  constructor(private readonly ctx: AppContext) {
    const file = h('input', {
      id: 'dataset-file',
      name: 'file',
      type: 'file',
      accept: '.csv,text/csv',
      required: true,
    }) as HTMLInputElement
    const name = nameInput('dataset-name', 'name', 100)
    file.addEventListener('change', () => {
      const f = file.files?.[0]
      if (f && !name.value.trim()) name.value = f.name.replace(/\.csv$/i, '')
    })
    const form: HTMLFormElement = cardForm({
      class: 'dataset-form',
      label: 'Upload a CSV file',
      body: [field('CSV file', file), field('Name', name)],
      submit: 'Upload',
      busy: 'Uploading…',
      failure: 'Could not upload',
      send: async () => {
        const f = file.files?.[0]
        if (!f) throw new FormProblem('Choose a CSV file.', file)
        if (f.size > MAX_BYTES) throw new FormProblem('That file is larger than 5 MB.')
        if (!name.value.trim()) throw new FormProblem('Give the dataset a name.', name)
        const dataset = await ctx.api.uploadDataset(name.value.trim(), await f.text())
        form.reset()
        ctx.announce(`Dataset ${dataset.name} uploaded.`)
        await this.#load()
        await this.#show(dataset)
      },
    })
    this.#list = h('ul', { class: 'dataset-list', 'aria-label': 'Your datasets' })
    this.#status = statusLine()
    this.#detail = h('section', { class: 'dataset-detail', 'aria-live': 'polite' })
    this.el = pageSection(
      {
        class: 'datasets-page',
        headingId: 'datasets-heading',
        title: 'Datasets',
        intro: 'Upload CSV files, then ask the data analyst about them in a chat.',
      },
      form,
      sectionHeading('Your datasets'),
      this.#status,
      this.#list,
      this.#detail,
    )
    void this.#load()
  }

  async #load() {
    await loadReporting(this.#status, 'datasets', async () => {
      this.#render(await this.ctx.api.datasets())
    })
  }

  #render(datasets: Dataset[]) {
    clear(this.#list)
    this.#status.textContent = datasets.length ? '' : 'No datasets yet.'
    for (const d of datasets) {
      const open = h('button', { type: 'button', class: 'btn-link dataset-open' }, d.name)
      open.addEventListener('click', () => void this.#show(d))
      const del = deleteButton(this.ctx, 'dataset', d.name, async () => {
        await this.ctx.api.deleteDataset(d.id)
        if (this.#detail.dataset.datasetId === d.id) {
          clear(this.#detail)
          delete this.#detail.dataset.datasetId
        }
        this.ctx.announce(`Dataset ${d.name} deleted.`)
        await this.#load()
        focusFirst(this.#list.querySelector('.dataset-open'), this.el.querySelector('#dataset-file'))
      })
      const cols = d.columns?.length ?? 0
      this.#list.append(
        h(
          'li',
          { class: 'card dataset-item', dataset: { datasetId: d.id } },
          h(
            'div',
            { class: 'dataset-main' },
            icon(icons.table),
            open,
            h('span', { class: 'muted' }, `${d.rowCount ?? '?'} rows · ${cols} column${cols === 1 ? '' : 's'}`),
          ),
          del,
        ),
      )
    }
  }

  async #show(d: Dataset) {
    this.#detail.dataset.datasetId = d.id
    clear(this.#detail)
    this.#detail.append(h('p', { class: 'muted' }, 'Loading…'))
    let dataset = d
    let rows: unknown[] = []
    try {
      const answer = await this.ctx.api.dataset(d.id)
      dataset = answer.dataset ?? d
      rows = answer.rows ?? []
    } catch (err) {
      clear(this.#detail)
      this.#detail.append(h('p', { class: 'form-error' }, `Could not load the rows: ${(err as Error).message}`))
    }
    if (this.#detail.dataset.datasetId !== d.id) return
    clear(this.#detail)
    const columns = dataset.columns ?? []
    const preview = rows.slice(0, 20)
    append(this.#detail, [
      h('h2', { class: 'section-heading', id: 'dataset-detail-heading', tabindex: '-1' }, dataset.name),
      h('p', { class: 'muted' }, `${dataset.rowCount ?? rows.length} rows`),
      h('h3', null, 'Columns'),
      h(
        'ul',
        { class: 'column-list', 'aria-label': 'Columns and types' },
        columns.map((c) =>
          h(
            'li',
            { class: 'column-chip', dataset: { column: c.name, type: c.type } },
            h('span', { class: 'column-name' }, c.name),
            h('span', { class: 'column-type' }, c.type),
          ),
        ),
      ),
      preview.length
        ? [
            h('h3', null, `First ${preview.length} rows`),
            h(
              'div',
              { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': `First rows of ${dataset.name}` },
              h(
                'table',
                { class: 'data-table' },
                tableHead(columns.map((c) => c.name)),
                tableBody(
                  preview,
                  columns.map((c) => c.name),
                  {
                    text: (v) => (v === null || v === undefined ? '' : String(v)),
                    numeric: (_, i) => /int|num|float|real|dec/i.test(columns[i]!.type),
                  },
                ),
              ),
            ),
          ]
        : null,
    ])
    this.#detail.querySelector<HTMLElement>('#dataset-detail-heading')?.focus()
  }

  dispose() {}
}
