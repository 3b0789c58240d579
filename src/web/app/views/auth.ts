/** Sign in / sign up, and "Sign in with SSO" when the server has OpenID Connect configured. */
import { ApiError, type Api, type SessionAnswer } from '../../client/api'
import { h } from '../dom'

export function authView(api: Api, opts: { notice?: string; onSignedIn(answer: SessionAnswer): void }): HTMLElement {
  let mode: 'signin' | 'signup' = 'signin'
  const heading = h('h1', { id: 'auth-heading' }, 'Sign in')
  const email = h('input', {
    id: 'auth-email',
    name: 'email',
    type: 'email',
    autocomplete: 'username',
    required: true,
    spellcheck: 'false',
  }) as HTMLInputElement
  const name = h('input', {
    id: 'auth-name',
    name: 'name',
    type: 'text',
    autocomplete: 'name',
    maxlength: '100',
  }) as HTMLInputElement
  const password = h('input', {
    id: 'auth-password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    'aria-describedby': 'password-hint',
  }) as HTMLInputElement
  const nameField = h(
    'div',
    { class: 'field' },
    h('label', { for: 'auth-name' }, 'Name ', h('span', { class: 'muted' }, '(optional)')),
    name,
  )
  const hint = h('p', { id: 'password-hint', class: 'field-hint' })
  const error = h('p', { class: 'form-error', role: 'alert', id: 'auth-error' })
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in')
  const switchText = h('span', null, 'No account yet?')
  const switchBtn = h('button', { type: 'button', class: 'btn-link switch-mode' }, 'Create one')
  const switchRow = h('p', { class: 'switch' }, switchText, ' ', switchBtn)
  const sso = h(
    'div',
    { class: 'sso' },
    h('div', { class: 'divider' }, h('span', null, 'or')),
    h('a', { class: 'btn btn-block btn-secondary sso-btn', href: '/api/auth/oidc/login' }, 'Sign in with SSO'),
  )
  sso.hidden = true
  void api.oidcEnabled().then((on) => (sso.hidden = !on))

  const form = h(
    'form',
    { class: 'auth-form', 'aria-labelledby': 'auth-heading', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'auth-email' }, 'Email'), email),
    nameField,
    h('div', { class: 'field' }, h('label', { for: 'auth-password' }, 'Password'), password, hint),
    error,
    submit,
  )

  const setMode = (next: typeof mode) => {
    mode = next
    const signup = mode === 'signup'
    heading.textContent = signup ? 'Create an account' : 'Sign in'
    submit.textContent = signup ? 'Create account' : 'Sign in'
    nameField.hidden = !signup
    password.autocomplete = signup ? 'new-password' : 'current-password'
    password.minLength = signup ? 8 : 1
    hint.textContent = signup ? 'At least 8 characters and hard to guess: a few uncommon words work well.' : ''
    switchText.textContent = signup ? 'Already have an account?' : 'No account yet?'
    switchBtn.textContent = signup ? 'Sign in' : 'Create one'
    error.textContent = ''
  }
  setMode('signin')
  const intro = h('p', { class: 'notice first-run', role: 'status' })
  intro.hidden = true
  // A fresh server: the first account is the administrator's; say so and offer just that.
  void api.needsAdmin().then((needed) => {
    card.dataset.setup = needed ? 'needs-admin' : 'ready'
    if (!needed) return
    setMode('signup')
    heading.textContent = 'Create the admin account'
    submit.textContent = 'Create the admin account'
    intro.textContent =
      'Nobody has an account on this server yet. The first account manages the server; everyone else signs up after it.'
    intro.hidden = false
    switchRow.hidden = true
  })
  switchBtn.addEventListener('click', () => {
    setMode(mode === 'signin' ? 'signup' : 'signin')
    email.focus()
  })

  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    error.textContent = ''
    if (!email.value.trim() || !email.checkValidity()) {
      error.textContent = 'Enter a valid email address.'
      email.focus()
      return
    }
    if (!password.value || (mode === 'signup' && password.value.length < 8)) {
      error.textContent = mode === 'signup' ? 'The password needs at least 8 characters.' : 'Enter your password.'
      password.focus()
      return
    }
    submit.disabled = true
    submit.setAttribute('aria-busy', 'true')
    try {
      const answer =
        mode === 'signup'
          ? await api.register(email.value.trim(), password.value, name.value.trim() || undefined)
          : await api.login(email.value.trim(), password.value)
      opts.onSignedIn(answer)
    } catch (err) {
      const e = err as ApiError
      error.textContent =
        e instanceof ApiError
          ? e.code === 'invalid_credentials'
            ? 'Email or password is wrong.'
            : e.code === 'email_taken'
              ? 'An account with this email already exists. Sign in instead?'
              : e.message
          : 'The server cannot be reached. Check your connection and try again.'
      ;(e instanceof ApiError && e.code === 'email_taken' ? email : password).focus()
    } finally {
      submit.disabled = false
      submit.removeAttribute('aria-busy')
    }
  })

  const card = h(
    'div',
    { class: 'auth-card' },
    h('div', { class: 'brand brand-large' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), 'Local Chat'),
    heading,
    opts.notice ? h('p', { class: 'notice', role: 'status' }, opts.notice) : null,
    intro,
    form,
    sso,
    switchRow,
  )
  queueMicrotask(() => email.focus())
  return h('main', { class: 'auth-page', id: 'main' }, card)
}
