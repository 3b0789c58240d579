/**
 * Settings → API keys: create a key (its secret shown once, with a copy button), list keys with
 * their last use, revoke one. Keys are for scripts and tools on /v1 and /mcp (docs/clients.md).
 */
import type { ApiKey } from '../../client/types'
import type { AppContext, View } from '../context'
import { clear, formatTime, h, icon, icons } from '../dom'
import { cardForm, field, FormProblem, nameInput } from './kit/form'
import { loadReporting, pageSection, sectionHeading, statusLine } from './kit/page'

const EXPIRY_CHOICES: [string, string][] = [
  ['', 'Never'],
  ['7', '7 days'],
  ['30', '30 days'],
  ['90', '90 days'],
  ['365', '1 year'],
]

export class ApiKeysView implements View {
  readonly el: HTMLElement
  #list: HTMLUListElement
  #status: HTMLElement
  #more: HTMLButtonElement
  #reveal: HTMLElement
  #keys: ApiKey[] = []
  #cursor: string | null = null

  constructor(private readonly ctx: AppContext) {
    const name = nameInput('key-name', 'name', 100)
    name.placeholder = 'e.g. home automation'
    const expiry = h(
      'select',
      { id: 'key-expiry', name: 'expiry' },
      EXPIRY_CHOICES.map(([value, label]) => h('option', { value }, label)),
    ) as HTMLSelectElement
    const form = cardForm({
      class: 'key-form',
      label: 'Create an API key',
      body: [field('Name', name, 'Where the key will be used, so you can tell keys apart.'), field('Expires', expiry)],
      submit: [icon(icons.plus), h('span', null, 'Create key')],
      failure: 'Could not create the key',
      send: async () => {
        if (!name.value.trim()) throw new FormProblem('Give the key a name.', name)
        const { key, secret } = await ctx.api.createApiKey(
          name.value.trim(),
          expiry.value ? Number(expiry.value) : undefined,
        )
        name.value = ''
        expiry.value = ''
        this.#showSecret(key, secret)
        await this.#load()
      },
    })

    this.#reveal = h('div', { class: 'key-reveal-slot' })
    this.#list = h('ul', { class: 'key-list', 'aria-label': 'Your API keys' })
    this.#status = statusLine()
    this.#more = h('button', { type: 'button', class: 'btn btn-secondary', hidden: true }, 'Show more keys')
    this.#more.addEventListener('click', () => void this.#load(this.#cursor ?? undefined))
    this.el = pageSection(
      {
        class: 'settings-page api-keys-page',
        headingId: 'api-keys-heading',
        title: 'API keys',
        breadcrumb: 'Settings',
        intro: [
          'Personal keys let scripts, editors and assistants use this server as you: the OpenAI-compatible API under ',
          h('code', null, '/v1'),
          ' and the MCP server at ',
          h('code', null, '/mcp'),
          '. A key can do what you can do in a chat; revoke it when it is no longer needed.',
        ],
      },
      form,
      this.#reveal,
      sectionHeading('Your keys'),
      this.#status,
      this.#list,
      this.#more,
    )
    void this.#load()
  }

  /** The secret, once: a read-only field with a copy button. Leaving the page forgets it. */
  #showSecret(key: ApiKey, secret: string) {
    const secretField = h('input', {
      id: 'new-key-secret',
      class: 'key-secret',
      readonly: true,
      value: secret,
      spellcheck: 'false',
      autocomplete: 'off',
    }) as HTMLInputElement
    const copied = h('span', { class: 'muted copy-status', role: 'status' })
    const copy = h(
      'button',
      { type: 'button', class: 'btn btn-secondary copy-key' },
      icon(icons.copy),
      h('span', null, 'Copy'),
    )
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(secret)
      } catch {
        // No clipboard permission (plain http on another host): select it for Ctrl+C instead.
        secretField.select()
        document.execCommand('copy')
      }
      copied.textContent = 'Copied.'
      this.ctx.announce('Key copied to the clipboard.')
    })
    const done = h('button', { type: 'button', class: 'btn btn-ghost' }, 'Done')
    done.addEventListener('click', () => {
      clear(this.#reveal)
      this.el.querySelector<HTMLElement>('#key-name')?.focus()
    })
    secretField.addEventListener('focus', () => secretField.select())
    const panel = h(
      'div',
      { class: 'card key-reveal', role: 'region', 'aria-label': 'New API key' },
      h('h2', { class: 'key-reveal-title' }, `Key “${key.name}” created`),
      h('p', { class: 'notice' }, 'Copy this key now. It is shown only once: the server keeps only a hash of it.'),
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'new-key-secret' }, 'Secret key'),
        h('div', { class: 'key-secret-row' }, secretField, copy),
      ),
      h('div', { class: 'form-actions' }, copied, done),
    )
    this.#reveal.replaceChildren(panel)
    this.ctx.announce('API key created. Copy it now; it will not be shown again.')
    copy.focus()
  }

  async #load(cursor?: string) {
    await loadReporting(this.#status, 'API keys', async () => {
      const page = await this.ctx.api.apiKeys(cursor)
      this.#keys = cursor ? [...this.#keys, ...page.keys] : page.keys
      this.#cursor = page.nextCursor
      this.#render()
    })
  }

  #render() {
    clear(this.#list)
    this.#status.textContent = this.#keys.length ? '' : 'No API keys yet.'
    this.#more.hidden = !this.#cursor
    for (const key of this.#keys) {
      const revoke = h(
        'button',
        { type: 'button', class: 'btn btn-danger btn-small revoke-key', 'aria-label': `Revoke key “${key.name}”` },
        icon(icons.trash),
        h('span', null, 'Revoke'),
      )
      const actions = h('div', { class: 'key-actions' }, revoke)
      // Revoking breaks whatever uses the key, so it asks first (inline, like deleting a chat).
      revoke.addEventListener('click', () => {
        const yes = h('button', { type: 'button', class: 'btn btn-danger btn-small confirm-revoke' }, 'Revoke now')
        const no = h('button', { type: 'button', class: 'btn btn-ghost btn-small' }, 'Cancel')
        no.addEventListener('click', () => {
          actions.replaceChildren(revoke)
          revoke.focus()
        })
        yes.addEventListener('click', async () => {
          yes.disabled = true
          try {
            await this.ctx.api.revokeApiKey(key.id)
            this.ctx.announce(`Key “${key.name}” revoked.`)
            await this.#load()
            ;(
              this.#list.querySelector<HTMLElement>('.revoke-key') ?? this.el.querySelector<HTMLElement>('#key-name')
            )?.focus()
          } catch (err) {
            yes.disabled = false
            this.ctx.toast(`Could not revoke the key: ${(err as Error).message}`)
          }
        })
        actions.replaceChildren(
          h(
            'div',
            { class: 'confirm-row', role: 'group', 'aria-label': `Revoke key “${key.name}”?` },
            h('span', { class: 'confirm-text' }, 'Anything using this key stops working at once.'),
            yes,
            no,
          ),
        )
        yes.focus()
      })
      const expired = key.expiresAt !== null && Date.parse(key.expiresAt) <= Date.now()
      this.#list.append(
        h(
          'li',
          { class: 'card key-item', dataset: { keyId: key.id } },
          h(
            'div',
            { class: 'key-main' },
            h('h3', { class: 'key-name' }, key.name),
            h('code', { class: 'key-prefix', 'aria-label': `starts with ${key.prefix}` }, `${key.prefix}…`),
          ),
          h(
            'dl',
            { class: 'key-facts' },
            h('dt', null, 'Created'),
            h('dd', null, h('time', { datetime: key.createdAt }, formatTime(key.createdAt))),
            h('dt', null, 'Last used'),
            h(
              'dd',
              { class: 'key-last-used' },
              key.lastUsedAt ? h('time', { datetime: key.lastUsedAt }, formatTime(key.lastUsedAt)) : 'Never',
            ),
            h('dt', null, 'Expires'),
            h(
              'dd',
              { class: expired ? 'key-expired' : undefined },
              key.expiresAt
                ? [expired ? 'Expired ' : '', h('time', { datetime: key.expiresAt }, formatTime(key.expiresAt))]
                : 'Never',
            ),
          ),
          actions,
        ),
      )
    }
  }

  dispose() {
    // The secret panel goes with the view: it is never shown again.
    clear(this.#reveal)
  }
}
