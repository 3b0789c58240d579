/** Admin · Audit: the account events, newest first, filterable by actor and action. */
import { teamsApi, type AuditEvent, type TeamsApi } from '../../client/teams-api'
import type { AppContext, View } from '../context'
import { formatTime, h } from '../dom'
import { field } from './kit/form'
import { pageSection } from './kit/page'
import { PagedTable } from './kit/paged-table'
import { AUDIT_ACTIONS } from '../../../protocol'

export class AdminAuditView implements View {
  readonly el: HTMLElement
  #teams: TeamsApi
  #table: PagedTable<AuditEvent>
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
    for (const select of [this.#actor, this.#action])
      select.addEventListener('change', () => void this.#table.restart())
    this.#table = new PagedTable({
      class: 'audit-table',
      columns: ['Time', 'Actor', 'Action', 'Target', 'Address', 'Detail'],
      what: 'the audit log',
      empty: 'No events.',
      fetch: async (cursor) => {
        const page = await this.#teams.audit({
          actorId: this.#actor.value || undefined,
          action: this.#action.value || undefined,
          cursor,
        })
        return { items: page.events, nextCursor: page.nextCursor }
      },
      row: (e) => this.#row(e),
    })
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
      ...this.#table.parts(),
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
    await this.#table.load()
  }

  #who(id: string | null | undefined) {
    if (!id) return id === null ? 'server / shell' : ''
    return this.#emails.get(id) ?? `${id.slice(0, 8)}… (deleted)`
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
