/** Admin · Usage: everyone's runs and tokens per day and model, sortable, with a CSV download. */
import { saveBlob, teamsApi, type TeamsApi, type UsageRow } from '../../client/teams-api'
import type { AppContext, View } from '../context'
import { h } from '../dom'
import { field } from './kit/form'
import { loadReporting, pageSection, statusLine } from './kit/page'

type Row = UsageRow & { userId: string; email: string }
type Key = 'day' | 'email' | 'model' | 'runs' | 'promptTokens' | 'completionTokens'
const COLUMNS: [Key, string][] = [
  ['day', 'Day'],
  ['email', 'User'],
  ['model', 'Model'],
  ['runs', 'Runs'],
  ['promptTokens', 'Prompt tokens'],
  ['completionTokens', 'Completion tokens'],
]
/** Pages fetched at most per view (200 rows each). */
const MAX_PAGES = 50

/** A CSV cell; text that a spreadsheet would run as a formula is defused with a leading quote. */
function csvCell(value: string | number): string {
  if (typeof value === 'number') return String(value)
  const safe = /^[=+\-@]/.test(value) ? `'${value}` : value
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe
}

export class AdminUsageView implements View {
  readonly el: HTMLElement
  #teams: TeamsApi
  #rows: Row[] = []
  #sort: { key: Key; dir: 1 | -1 } = { key: 'day', dir: -1 }
  #table: HTMLTableElement
  #status: HTMLElement
  #from: HTMLInputElement
  #to: HTMLInputElement

  constructor(private readonly ctx: AppContext) {
    this.#teams = teamsApi(ctx.api, ctx.session)
    const today = new Date().toISOString().slice(0, 10)
    this.#from = h('input', {
      id: 'usage-from',
      type: 'date',
      value: new Date(Date.now() - 29 * 86_400_000).toISOString().slice(0, 10),
    }) as HTMLInputElement
    this.#to = h('input', { id: 'usage-to', type: 'date', value: today }) as HTMLInputElement
    const apply = h('button', { type: 'submit', class: 'btn btn-secondary' }, 'Show')
    const csv = h('button', { type: 'button', class: 'btn btn-secondary download-csv' }, 'Download CSV')
    csv.addEventListener('click', () => this.#downloadCsv())
    const form = h(
      'form',
      { class: 'card filters', 'aria-label': 'Date range' },
      h('div', { class: 'form-grid' }, field('From', this.#from), field('To', this.#to)),
      h('div', { class: 'form-actions' }, apply, csv),
    )
    form.addEventListener('submit', (e) => {
      e.preventDefault()
      void this.#load()
    })
    this.#table = h('table', { class: 'data-table admin-usage-table' })
    this.#status = statusLine()
    this.el = pageSection(
      {
        class: 'admin-page admin-usage',
        headingId: 'admin-usage-heading',
        title: 'Usage',
        intro: 'Runs and tokens per user, day and model (UTC days). Counts only.',
      },
      form,
      this.#status,
      h('div', { class: 'table-wrap' }, this.#table),
    )
    void this.#load()
  }

  async #load() {
    this.#status.textContent = 'Loading…'
    await loadReporting(this.#status, 'usage', async () => {
      const emails = new Map<string, string>()
      let cursor: string | null = null
      for (let i = 0; i < MAX_PAGES; i++) {
        const page = await this.#teams.users(cursor, 200)
        for (const u of page.users) emails.set(u.id, u.email)
        if (!(cursor = page.nextCursor)) break
      }
      const rows: Row[] = []
      cursor = null
      for (let i = 0; i < MAX_PAGES; i++) {
        const page = await this.#teams.allUsage({
          from: this.#from.value || undefined,
          to: this.#to.value || undefined,
          cursor,
        })
        for (const r of page.usage)
          rows.push({ ...r, email: emails.get(r.userId) ?? `(deleted ${r.userId.slice(0, 8)})` })
        if (!(cursor = page.nextCursor)) break
      }
      this.#rows = rows
      this.#status.textContent = rows.length ? `${rows.length} rows` : 'No usage in this range.'
      this.#render()
    })
  }

  #sorted(): Row[] {
    const { key, dir } = this.#sort
    return [...this.#rows].sort((a, b) => {
      const [x, y] = [a[key], b[key]]
      return (typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y))) * dir
    })
  }

  #render() {
    const head = h(
      'tr',
      null,
      ...COLUMNS.map(([key, label]) => {
        const active = this.#sort.key === key
        const button = h(
          'button',
          { type: 'button', class: 'sort-btn', dataset: { key } },
          label,
          active ? (this.#sort.dir === 1 ? ' ▲' : ' ▼') : '',
        )
        button.addEventListener('click', () => {
          this.#sort = {
            key,
            dir: active
              ? (-this.#sort.dir as 1 | -1)
              : key === 'day' || typeof this.#rows[0]?.[key] === 'number'
                ? -1
                : 1,
          }
          this.#render()
          this.#table.querySelector<HTMLButtonElement>(`.sort-btn[data-key="${key}"]`)?.focus()
        })
        return h(
          'th',
          { scope: 'col', 'aria-sort': active ? (this.#sort.dir === 1 ? 'ascending' : 'descending') : 'none' },
          button,
        )
      }),
    )
    const body = h(
      'tbody',
      null,
      ...this.#sorted().map((r) =>
        h(
          'tr',
          null,
          ...COLUMNS.map(([key]) =>
            h(
              'td',
              { class: typeof r[key] === 'number' ? 'num' : undefined },
              typeof r[key] === 'number' ? (r[key] as number).toLocaleString() : String(r[key]),
            ),
          ),
        ),
      ),
    )
    this.#table.replaceChildren(h('thead', null, head), body)
  }

  #downloadCsv() {
    const lines = [['day', 'user_id', 'email', 'model', 'runs', 'prompt_tokens', 'completion_tokens'].join(',')]
    for (const r of this.#sorted())
      lines.push([r.day, r.userId, r.email, r.model, r.runs, r.promptTokens, r.completionTokens].map(csvCell).join(','))
    saveBlob(
      new Blob([lines.join('\r\n') + '\r\n'], { type: 'text/csv' }),
      `usage-${this.#from.value}-${this.#to.value}.csv`,
    )
    this.ctx.announce('Usage CSV downloaded.')
  }

  dispose() {}
}
