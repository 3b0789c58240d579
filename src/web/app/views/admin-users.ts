/** Admin · Users: create accounts, change role, disable/enable, set quotas, sign out everywhere. */
import { teamsApi, type AdminUser, type TeamsApi } from '../../client/teams-api'
import type { AppContext, View } from '../context'
import { formatTime, h } from '../dom'
import { cardForm, field } from './kit/form'
import { pageSection, sectionHeading } from './kit/page'
import { PagedTable } from './kit/paged-table'

/** A per-day quota of one user: empty is the server's default, 0 no limit. */
function quotaInput(kind: 'runs' | 'tokens', label: string, value: number | null | undefined): HTMLInputElement {
  return h('input', {
    type: 'number',
    min: '0',
    step: '1',
    class: `quota-input quota-${kind}`,
    'aria-label': `${label} (empty: default, 0: no limit)`,
    value: value ?? '',
  }) as HTMLInputElement
}

export class AdminUsersView implements View {
  readonly el: HTMLElement
  #teams: TeamsApi
  #table: PagedTable<AdminUser>

  constructor(private readonly ctx: AppContext) {
    this.#teams = teamsApi(ctx.api, ctx.session)
    this.#table = new PagedTable({
      class: 'users-table',
      columns: ['Email', 'Name', 'Role', 'State', 'Last active', 'Quota (runs / tokens per day)', 'Actions'],
      what: 'the accounts',
      empty: 'No accounts.',
      fetch: async (cursor) => {
        const page = await this.#teams.users(cursor)
        return { items: page.users, nextCursor: page.nextCursor }
      },
      row: (user) => this.#row(user),
    })
    this.el = pageSection(
      {
        class: 'admin-page admin-users',
        headingId: 'admin-users-heading',
        title: 'Users',
        intro: 'Manage accounts. Admins never see what users wrote.',
      },
      this.#createForm(),
      ...this.#table.parts(),
    )
    void this.#table.load()
  }

  #createForm() {
    const email = h('input', {
      id: 'new-user-email',
      type: 'email',
      required: true,
      autocomplete: 'off',
    }) as HTMLInputElement
    const name = h('input', { id: 'new-user-name', autocomplete: 'off' }) as HTMLInputElement
    const password = h('input', {
      id: 'new-user-password',
      type: 'password',
      autocomplete: 'new-password',
      minlength: '8',
    }) as HTMLInputElement
    const role = h(
      'select',
      { id: 'new-user-role' },
      h('option', { value: 'member' }, 'Member'),
      h('option', { value: 'admin' }, 'Admin'),
    ) as HTMLSelectElement
    return cardForm({
      class: 'create-user',
      label: 'Create an account',
      body: [
        sectionHeading('New account'),
        h(
          'div',
          { class: 'form-grid' },
          field('Email', email),
          field('Name', name),
          field('Password', password),
          field('Role', role),
        ),
      ],
      submit: 'Create account',
      failure: 'Could not create the account',
      send: async () => {
        const { user } = await this.#teams.createUser({
          email: email.value.trim(),
          password: password.value,
          name: name.value.trim() || undefined,
          role: role.value,
        })
        this.ctx.announce(`Account ${user.email} created.`)
        email.value = name.value = password.value = ''
        await this.#table.restart()
      },
    })
  }

  #row(user: AdminUser): HTMLTableRowElement {
    const tr = h('tr', { dataset: { userId: user.id, email: user.email } })
    const fill = (u: AdminUser) => {
      const role = h(
        'select',
        { 'aria-label': `Role of ${u.email}`, class: 'user-role' },
        h('option', { value: 'member', selected: u.role === 'member' }, 'Member'),
        h('option', { value: 'admin', selected: u.role === 'admin' }, 'Admin'),
      ) as HTMLSelectElement
      const runs = quotaInput('runs', `Runs per day for ${u.email}`, u.quota?.runsPerDay)
      const tokens = quotaInput('tokens', `Tokens per day for ${u.email}`, u.quota?.tokensPerDay)
      const saveQuota = h('button', { type: 'button', class: 'btn btn-small save-quota' }, 'Save quota')
      const toggle = h(
        'button',
        { type: 'button', class: 'btn btn-small toggle-disabled' },
        u.disabled ? 'Enable' : 'Disable',
      )
      const signOut = h('button', { type: 'button', class: 'btn btn-small sign-out-user' }, 'Sign out everywhere')
      // biome-ignore lint/suspicious/noConfusingVoidType: actions answer a user, or nothing (a delete)
      const act = async (what: string, fn: () => Promise<AdminUser | void>) => {
        try {
          const updated = await fn()
          if (updated) fill(updated)
          this.ctx.announce(`${what}: ${u.email}.`)
        } catch (err) {
          this.ctx.toast(`${what} failed: ${(err as Error).message}`)
          fill(u)
        }
      }
      role.addEventListener(
        'change',
        () => void act('Role changed', async () => (await this.#teams.updateUser(u.id, { role: role.value })).user),
      )
      toggle.addEventListener(
        'click',
        () =>
          void act(
            u.disabled ? 'Enabled' : 'Disabled',
            async () => (await this.#teams.updateUser(u.id, { disabled: !u.disabled })).user,
          ),
      )
      saveQuota.addEventListener('click', () => {
        const value = (input: HTMLInputElement) => (input.value.trim() === '' ? undefined : Number(input.value))
        const quota =
          value(runs) === undefined && value(tokens) === undefined
            ? null
            : {
                ...(value(runs) !== undefined && { runsPerDay: value(runs) }),
                ...(value(tokens) !== undefined && { tokensPerDay: value(tokens) }),
              }
        void act('Quota saved', async () => (await this.#teams.updateUser(u.id, { quota })).user)
      })
      signOut.addEventListener('click', () => void act('Signed out everywhere', () => this.#teams.signOutUser(u.id)))
      tr.replaceChildren(
        h('td', { class: 'user-email' }, u.email),
        h('td', null, u.name),
        h('td', null, role),
        h('td', { class: 'user-state' }, u.disabled ? 'Disabled' : 'Active'),
        h('td', null, u.lastActiveAt ? formatTime(u.lastActiveAt) : '—'),
        h('td', { class: 'quota-cell' }, runs, tokens, saveQuota),
        h('td', { class: 'actions-cell' }, toggle, signOut),
      )
    }
    fill(user)
    return tr
  }

  dispose() {}
}
