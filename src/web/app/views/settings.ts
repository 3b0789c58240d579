/** Settings for every user: profile, password change, taking the data out, deleting the account. */
import { teamsApi } from '../../client/teams-api'
import { saveBlob } from '../../client/teams-api'
import type { AppContext, View } from '../context'
import { h } from '../dom'

export class SettingsView implements View {
  readonly el: HTMLElement

  constructor(private readonly ctx: AppContext) {
    const user = ctx.session.user
    const teams = teamsApi(ctx.api, ctx.session)
    this.el = h(
      'section',
      { class: 'page settings-page', 'aria-labelledby': 'settings-heading' },
      h('h1', { id: 'settings-heading' }, 'Settings'),
      h(
        'div',
        { class: 'card profile-card', 'aria-label': 'Profile' },
        h('h2', { class: 'section-heading' }, 'Profile'),
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
    const message = h('p', { class: 'form-error', role: 'alert' })
    const done = h('p', { class: 'form-ok', role: 'status' })
    const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Change password')
    const form = h(
      'form',
      { class: 'card password-form', 'aria-label': 'Change password', novalidate: true },
      h('h2', { class: 'section-heading' }, 'Password'),
      h('div', { class: 'field' }, h('label', { for: 'current-password' }, 'Current password'), current),
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'new-password' }, 'New password'),
        next,
        h('p', { class: 'field-hint' }, 'At least 8 characters. Your other sessions are signed out.'),
      ),
      message,
      done,
      h('div', { class: 'form-actions' }, submit),
    )
    form.addEventListener('submit', async (e) => {
      e.preventDefault()
      message.textContent = ''
      done.textContent = ''
      if (!current.value || next.value.length < 8) {
        message.textContent =
          next.value.length < 8 ? 'The new password needs at least 8 characters.' : 'Enter your current password.'
        return
      }
      submit.disabled = true
      try {
        await teams.changePassword(current.value, next.value)
        current.value = ''
        next.value = ''
        done.textContent = 'Password changed. Your other sessions were signed out.'
        this.ctx.announce('Password changed.')
      } catch (err) {
        message.textContent = `Could not change the password: ${(err as Error).message}`
      } finally {
        submit.disabled = false
      }
    })
    return form
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
      h('h2', { class: 'section-heading' }, 'Your data'),
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
    const message = h('p', { class: 'form-error', role: 'alert' })
    const submit = h('button', { type: 'submit', class: 'btn btn-danger delete-account' }, 'Delete my account')
    const form = h(
      'form',
      { class: 'card danger-card', 'aria-label': 'Delete account', novalidate: true },
      h('h2', { class: 'section-heading' }, 'Delete account'),
      h(
        'p',
        null,
        'This deletes your account and everything in it — chats, notes, datasets, usage. It cannot be undone.',
      ),
      h('div', { class: 'field' }, h('label', { for: 'delete-password' }, 'Password'), password),
      h(
        'div',
        { class: 'field field-check' },
        confirm,
        h('label', { for: 'delete-confirm' }, 'I understand that everything is deleted for good'),
      ),
      message,
      h('div', { class: 'form-actions' }, submit),
    )
    form.addEventListener('submit', async (e) => {
      e.preventDefault()
      message.textContent = ''
      if (!confirm.checked) {
        message.textContent = 'Tick the box to confirm.'
        confirm.focus()
        return
      }
      submit.disabled = true
      try {
        await teams.deleteAccount(password.value)
        this.ctx.session.clear('logout')
      } catch (err) {
        message.textContent = `Could not delete the account: ${(err as Error).message}`
        submit.disabled = false
      }
    })
    return form
  }

  dispose() {}
}
