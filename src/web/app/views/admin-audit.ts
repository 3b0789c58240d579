/** Admin · Audit: the account events, newest first, filterable by actor and action. */
import { teamsApi, type AuditEvent, type TeamsApi } from '../../client/teams-api'
import type { AppContext, View } from '../context'
import { formatTime, h } from '../dom'
import { field } from './kit/form'
import { loadMoreButton } from './kit/list'
import { loadReporting, pageSection, statusLine } from './kit/page'
import { dataTable } from './kit/table'
import { AUDIT_ACTIONS } from '../../../protocol'

export class AdminAuditView implements View {
  readonly el: HTMLElement
  #teams: TeamsApi
  #rows = h('tbody')
  #status: HTMLElement
  #more: HTMLButtonElement
  #cursor: string | null = null
  #actor: HTMLSelectElement
  #action: HTMLSelectElement
  #emails = new Map<string, string>()

  constructor(ctx: AppContext) {
    this.#teams = teamsApi(ctx.api, ctx.session)
    this.#actor = h('select', { id: 'audit-actor' }, h('option', { value: '' }, 'Anyone')) as HTMLSelectElement
    this.#action = h(
      'select',
      { id: 'audit-action' },
      h('option', { value: '' }, 'Any action'),
      ...AUDIT_ACTIONS.map((a) => h('option', { value: a }, a)),
    ) as HTMLSelectElement
    for (const select of [this.#actor, this.#action]) select.addEventListener('change', () => void this.#reload())
    this.#status = statusLine()
    this.#more = loadMoreButton(() => this.#load())
    this.el = pageSection(
      {
        class: 'admin-page admin-audit',
        headingId: 'admin-audit-heading',
        title: 'Audit log',
        intro: 'Who did what to which account. No content, passwords or keys are ever recorded.',
      },
      h(
        'div',
        { class: 'card filters' },
        h('div', { class: 'form-grid' }, field('Actor', this.#actor), field('Action', this.#action)),
      ),
      dataTable('audit-table', ['Time', 'Actor', 'Action', 'Target', 'Address', 'Detail'], this.#rows),
      this.#status,
      this.#more,
    )
    void this.#init()
  }

  async #init() {
    try {
      let cursor: string | null = null
      for (let i = 0; i < 50; i++) {
        const page = await this.#teams.users(cursor, 200)
        for (const u of page.users) {
          this.#emails.set(u.id, u.email)
          this.#actor.append(h('option', { value: u.id }, u.email))
        }
        if (!(cursor = page.nextCursor)) break
      }
    } catch {}
    await this.#load()
  }

  #who(id: string | null | undefined) {
    if (!id) return id === null ? 'server / shell' : ''
    return this.#emails.get(id) ?? `${id.slice(0, 8)}… (deleted)`
  }

  /** Bumped by each change of filter: an answer for an older filter is dropped, not shown. */
  #generation = 0

  async #reload() {
    this.#generation++
    this.#cursor = null
    this.#rows.replaceChildren()
    await this.#load()
  }

  async #load() {
    const generation = this.#generation
    await loadReporting(this.#status, 'the audit log', async () => {
      const page = await this.#teams.audit({
        actorId: this.#actor.value || undefined,
        action: this.#action.value || undefined,
        cursor: this.#cursor,
      })
      if (generation !== this.#generation) return // the filters changed while it loaded
      for (const e of page.events) this.#rows.append(this.#row(e))
      this.#cursor = page.nextCursor
      this.#more.hidden = !page.nextCursor
      this.#status.textContent = this.#rows.children.length ? '' : 'No events.'
    })
  }

  #row(e: AuditEvent) {
    const detail = e.detail
      ? Object.entries(e.detail)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', ')
      : ''
    return h(
      'tr',
      { dataset: { action: e.action } },
      h('td', null, h('time', { datetime: e.at }, formatTime(e.at))),
      h('td', null, this.#who(e.actorId)),
      h('td', { class: 'audit-action' }, e.action),
      h('td', null, this.#who(e.targetId)),
      h('td', null, e.ip ?? ''),
      h('td', null, detail),
    )
  }

  dispose() {}
}
