/** Settings for every user: profile, password change, taking the data out, deleting the account. */
import { teamsApi } from '../../client/teams-api'
import { saveBlob } from '../../client/teams-api'
import type { AppContext, View } from '../context'
import { h } from '../dom'
import { cardForm, field, FormProblem } from './kit/form'
import { pageSection, sectionHeading } from './kit/page'

export class SettingsView implements View {
  readonly el: HTMLElement

  constructor(private readonly ctx: AppContext) {
    const user = ctx.session.user
    const teams = teamsApi(ctx.api, ctx.session)
    this.el = pageSection(
      { class: 'settings-page', headingId: 'settings-heading', title: 'Settings' },
      h(
        'div',
        { class: 'card profile-card', 'aria-label': 'Profile' },
        sectionHeading('Profile'),
        h(
          'dl',
          { class: 'profile' },
          h('dt', null, 'Name'),
          h('dd', null, user?.name ?? ''),
          h('dt', null, 'Email'),
          h('dd', null, user?.email ?? ''),
          h('dt', null, 'Role'),
          h('dd', { class: 'profile-role' }, user?.role ?? ''),
        ),
        h('p', { class: 'muted' }, h('a', { href: '#/usage' }, 'See your usage and quota')),
      ),
      this.#passwordForm(teams),
      this.#exportCard(teams),
      this.#deleteCard(teams),
    )
  }

  #passwordForm(teams: ReturnType<typeof teamsApi>) {
    const current = h('input', {
      id: 'current-password',
      type: 'password',
      autocomplete: 'current-password',
      required: true,
    }) as HTMLInputElement
    const next = h('input', {
      id: 'new-password',
      type: 'password',
      autocomplete: 'new-password',
      required: true,
      minlength: '8',
    }) as HTMLInputElement
    const done = h('p', { class: 'form-ok', role: 'status' })
    return cardForm({
      class: 'password-form',
      label: 'Change password',
      body: [
        sectionHeading('Password'),
        field('Current password', current),
        field('New password', next, 'At least 8 characters. Your other sessions are signed out.'),
      ],
      after: done,
      submit: 'Change password',
      failure: 'Could not change the password',
      send: async () => {
        done.textContent = ''
        if (next.value.length < 8) throw new FormProblem('The new password needs at least 8 characters.')
        if (!current.value) throw new FormProblem('Enter your current password.')
        await teams.changePassword(current.value, next.value)
        current.value = ''
        next.value = ''
        done.textContent = 'Password changed. Your other sessions were signed out.'
        this.ctx.announce('Password changed.')
      },
    })
  }

  #exportCard(teams: ReturnType<typeof teamsApi>) {
    const button = h('button', { type: 'button', class: 'btn btn-secondary export-data' }, 'Download my data')
    const status = h('p', { class: 'muted', role: 'status' })
    button.addEventListener('click', async () => {
      button.disabled = true
      status.textContent = 'Preparing your export…'
      try {
        const { blob, filename } = await teams.exportBlob()
        saveBlob(blob, filename)
        status.textContent = `Saved ${filename}.`
      } catch (err) {
        status.textContent = `Could not export: ${(err as Error).message}`
      } finally {
        button.disabled = false
      }
    })
    return h(
      'div',
      { class: 'card export-card', 'aria-label': 'Your data' },
      sectionHeading('Your data'),
      h('p', null, 'One JSON file with your profile, chats, notes, datasets and usage.'),
      button,
      status,
    )
  }

  #deleteCard(teams: ReturnType<typeof teamsApi>) {
    const password = h('input', {
      id: 'delete-password',
      type: 'password',
      autocomplete: 'current-password',
    }) as HTMLInputElement
    const confirm = h('input', { id: 'delete-confirm', type: 'checkbox' }) as HTMLInputElement
    return cardForm({
      class: 'danger-card',
      label: 'Delete account',
      body: [
        sectionHeading('Delete account'),
        h(
          'p',
          null,
          'This deletes your account and everything in it — chats, notes, datasets, usage. It cannot be undone.',
        ),
        field('Password', password),
        h(
          'div',
          { class: 'field field-check' },
          confirm,
          h('label', { for: 'delete-confirm' }, 'I understand that everything is deleted for good'),
        ),
      ],
      submit: 'Delete my account',
      submitClass: 'btn btn-danger delete-account',
      failure: 'Could not delete the account',
      send: async () => {
        if (!confirm.checked) throw new FormProblem('Tick the box to confirm.', confirm)
        await teams.deleteAccount(password.value)
        this.ctx.session.clear('logout')
      },
    })
  }

  dispose() {}
}
