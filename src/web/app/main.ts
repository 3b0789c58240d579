/**
 * Entry point of the browser UI: session, API and socket clients, the app shell (sidebar +
 * main area) and a hash router (`#/`, `#/c/<thread>`, `#/notes`, `#/datasets`, `#/documents`, `#/usage`,
 * `#/settings`, `#/settings/api-keys`, and for admins `#/admin/users|usage|audit|status`).
 */
import { Api, type SessionAnswer } from '../client/api'
import { SESSION_KEY, SessionManager } from '../client/session'
import { ChatSocket } from '../client/socket'
import type { Agent } from '../client/types'
import type { AppContext, View } from './context'
import { h, humanize, icon, icons } from './dom'
import { authView } from './views/auth'
import { ChatView } from './views/chat'
import { DatasetsView } from './views/datasets'
import { DocumentsView } from './views/documents'
import { NotesView } from './views/notes'
import { ApiKeysView } from './views/settings-api-keys'
import { ThreadList } from './views/threads'
import { SettingsView } from './views/settings'
import { UsageView } from './views/usage'
import { AdminUsersView } from './views/admin-users'
import { AdminUsageView } from './views/admin-usage'
import { AdminAuditView } from './views/admin-audit'
import { AdminStatusView } from './views/admin-status'
import { SearchBox } from './views/search'

const ACTIVE_RUNS_KEY = 'chat-active-runs'
/** The admin area's pages (`#/admin/<page>`). */
const ADMIN_VIEWS: Record<string, new (ctx: AppContext) => View> = {
  users: AdminUsersView,
  usage: AdminUsageView,
  audit: AdminAuditView,
  status: AdminStatusView,
}
const root = document.getElementById('app')!
const liveRegion = h('div', { class: 'sr-only', 'aria-live': 'polite', role: 'status', id: 'announcer' })
const toasts = h('div', { class: 'toasts', 'aria-live': 'assertive' })
document.body.append(liveRegion, toasts)

const session = new SessionManager({ storage: localStorage, fetch: (input, init) => fetch(input, init) })
const api = new Api(session)
let app: SignedInApp | undefined

/** A link of the sidebar to one of the pages (`#/notes`); the router marks the current one. */
function pageLink(page: string, svg: string | null, label: string) {
  return h('a', { href: `#/${page}`, class: 'page-link', dataset: { page } }, svg ? icon(svg) : null, label)
}

function announce(text: string) {
  liveRegion.textContent = ''
  setTimeout(() => (liveRegion.textContent = text), 30)
}

function toast(text: string) {
  const el = h('div', { class: 'toast', role: 'alert' }, icon(icons.alert), h('span', null, text))
  const close = h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Dismiss' }, '×')
  close.addEventListener('click', () => el.remove())
  el.append(close)
  toasts.append(el)
  setTimeout(() => el.remove(), 8000)
}

function showAuth(notice?: string) {
  app?.dispose()
  app = undefined
  document.title = 'Sign in · Local Chat'
  root.replaceChildren(
    authView(api, {
      notice,
      onSignedIn(answer: SessionAnswer) {
        session.signIn(answer)
        if (!location.hash || location.hash === '#') history.replaceState(null, '', '#/')
        start()
      },
    }),
  )
}

function start() {
  if (!session.session) {
    showAuth()
    return
  }
  app?.dispose()
  app = new SignedInApp()
}

class SignedInApp {
  readonly ctx: AppContext
  readonly socket: ChatSocket
  #threads: ThreadList
  #search: SearchBox
  #main: HTMLElement
  #sidebar: HTMLElement
  #menuBtn: HTMLButtonElement
  #connection: HTMLElement
  #view: View | undefined
  #disposers: (() => void)[] = []
  #agents = new Map<string, string>()

  constructor() {
    const wsUrl = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`
    this.socket = new ChatSocket({
      url: wsUrl,
      getToken: () => session.freshToken(5_000),
      refreshToken: () => session.refresh(),
      signedIn: () => !!session.session,
      onTokenExpiring: (at) => void session.onTokenExpiring(at),
      fetchEvents: (runId, after) => api.runEvents(runId, after),
      activeRuns: {
        save: (runs) => sessionStorage.setItem(ACTIVE_RUNS_KEY, JSON.stringify(runs)),
      },
    })

    this.#threads = new ThreadList(api, {
      onDeleted: (id) => {
        if (this.#view instanceof ChatView && this.#view.threadId === id) location.hash = '#/'
      },
      onError: toast,
    })

    this.#search = new SearchBox(api, { onActive: (active) => this.#sidebar.classList.toggle('searching', active) })

    this.ctx = {
      api,
      session,
      socket: this.socket,
      agents: [],
      models: { models: [] },
      agentName: (id) => this.#agents.get(id) ?? (id === 'triage' ? 'Auto' : humanize(id)),
      refreshThreads: () => this.#threads.refreshSoon(),
      setCurrentThread: (id) => this.#threads.setCurrent(id),
      announce,
      toast,
    }

    // ---- shell ----
    const user = session.user
    this.#menuBtn = h(
      'button',
      {
        type: 'button',
        class: 'icon-btn menu-btn',
        'aria-label': 'Show chats and pages',
        'aria-expanded': 'false',
        'aria-controls': 'sidebar',
      },
      icon(icons.menu),
    )
    this.#menuBtn.addEventListener('click', () => this.#toggleSidebar())
    this.#connection = h('div', { class: 'connection', role: 'status', 'aria-live': 'polite' })
    const newChat = h(
      'a',
      { class: 'btn btn-primary new-chat', href: '#/' },
      icon(icons.plus),
      h('span', null, 'New chat'),
    )
    newChat.addEventListener('click', () => {
      // Already on a new chat: just focus the box.
      if (location.hash === '#/' || location.hash === '') (this.#view as ChatView | undefined)?.focus?.()
    })
    const signOut = h(
      'button',
      { type: 'button', class: 'btn btn-ghost sign-out' },
      icon(icons.logout),
      h('span', null, 'Sign out'),
    )
    signOut.addEventListener('click', () => void this.signOut())
    // Linking single sign-on happens only from a signed-in session of the account (docs/oidc.md).
    const linkSso = h('button', { type: 'button', class: 'btn-link link-sso', hidden: true }, 'Link SSO')
    void api.oidcEnabled().then((on) => (linkSso.hidden = !on))
    linkSso.addEventListener('click', async () => {
      try {
        location.assign(await api.oidcLinkUrl())
      } catch (error) {
        toast(error instanceof Error ? error.message : 'single sign-on could not be started')
      }
    })
    this.#sidebar = h(
      'aside',
      { class: 'sidebar', id: 'sidebar', 'aria-label': 'Chats and pages' },
      h('div', { class: 'brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), 'Local Chat'),
      newChat,
      this.#search.el,
      this.#threads.el,
      h(
        'nav',
        { class: 'pages', 'aria-label': 'Pages' },
        pageLink('notes', icons.notes, 'Notes'),
        pageLink('datasets', icons.table, 'Datasets'),
        pageLink('documents', icons.notes, 'Documents'),
        pageLink('usage', icons.table, 'Usage'),
        pageLink('settings', icons.settings, 'Settings'),
        pageLink('settings/api-keys', icons.pencil, 'API keys'),
        this.#importControl(),
      ),
      // Shown to admins only; the server enforces it either way (403 for members).
      user?.role === 'admin'
        ? h(
            'nav',
            { class: 'pages admin-pages', 'aria-label': 'Admin' },
            h('span', { class: 'pages-heading muted' }, 'Admin'),
            ...(['users', 'usage', 'audit', 'status'] as const).map((page) =>
              pageLink(`admin/${page}`, null, page[0].toUpperCase() + page.slice(1)),
            ),
          )
        : null,
      h(
        'div',
        { class: 'account' },
        h(
          'div',
          { class: 'account-who' },
          h('span', { class: 'account-name' }, user?.name ?? ''),
          h('span', { class: 'account-email muted' }, user?.email ?? ''),
          linkSso,
        ),
        signOut,
      ),
    )
    this.#main = h('main', { class: 'main', id: 'main', tabindex: '-1' })
    const scrim = h('div', { class: 'scrim', 'aria-hidden': 'true' })
    scrim.addEventListener('click', () => this.#toggleSidebar(false))
    root.replaceChildren(
      h(
        'a',
        { class: 'skip-link', href: '#main', onclick: (e: Event) => (e.preventDefault(), this.#main.focus()) },
        'Skip to content',
      ),
      h(
        'div',
        { class: 'layout' },
        this.#sidebar,
        scrim,
        h(
          'div',
          { class: 'content' },
          h('header', { class: 'topbar' }, this.#menuBtn, h('span', { class: 'topbar-title' }, 'Local Chat')),
          this.#connection,
          this.#main,
        ),
      ),
    )
    this.#sidebar.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.#sidebar.classList.contains('open')) {
        this.#toggleSidebar(false)
        this.#menuBtn.focus()
      }
    })

    // ---- wiring ----
    this.#disposers.push(
      this.socket.onStatus((s) => this.#showConnection(s)),
      this.socket.onEvent((e) => {
        if (e.type === 'agent_started' && !this.#threads.threads.some((t) => t.id === e.threadId))
          this.#threads.refreshSoon()
      }),
      session.onChange((change) => {
        if (change.kind === 'token') this.socket.updateToken(change.session.accessToken)
      }),
    )
    // Ctrl/Cmd+K: search, from anywhere in the app.
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === 'k') {
        e.preventDefault()
        if (!this.#sidebar.classList.contains('open') && matchMedia('(max-width: 760px)').matches)
          this.#toggleSidebar(true)
        this.#search.focus()
      }
    }
    document.addEventListener('keydown', onKey)
    this.#disposers.push(() => document.removeEventListener('keydown', onKey))
    const onHash = () => this.route()
    const online = () => this.socket.reconnectNow()
    const offline = () => this.socket.networkLost()
    window.addEventListener('hashchange', onHash)
    window.addEventListener('online', online)
    window.addEventListener('offline', offline)
    this.#disposers.push(() => {
      window.removeEventListener('hashchange', onHash)
      window.removeEventListener('online', online)
      window.removeEventListener('offline', offline)
    })

    this.socket.start()
    void this.#resumeStoredRuns()
    void this.#threads.refresh()
    void this.#loadPickers().then(() => this.route())
  }

  /** "Import chats": a chat or account export of ours, or a ChatGPT conversations.json, read from a file. */
  #importControl(): HTMLElement {
    const input = h('input', {
      type: 'file',
      accept: '.json,application/json',
      class: 'sr-only',
      id: 'import-file',
      tabindex: '-1',
      'aria-label': 'Chat file to import',
    }) as HTMLInputElement
    const button = h('button', { type: 'button', class: 'page-link import-btn' }, icon(icons.upload), 'Import chats')
    button.addEventListener('click', () => input.click())
    input.addEventListener('change', async () => {
      const file = input.files?.[0]
      input.value = ''
      if (!file) return
      button.disabled = true
      try {
        const threads = await api.importThreads(await file.text())
        announce(`Imported ${threads.length} chat${threads.length === 1 ? '' : 's'}`)
        this.#threads.showArchived(false)
        if (threads[0]) location.hash = `#/c/${encodeURIComponent(threads[0].id)}`
      } catch (error) {
        toast(`Could not import ${file.name}: ${(error as Error).message}`)
      } finally {
        button.disabled = false
      }
    })
    return h('div', { class: 'import' }, button, input)
  }

  /** After a reload: follow the runs this tab was showing that are still going. */
  async #resumeStoredRuns() {
    let stored: Record<string, string> = {}
    try {
      stored = JSON.parse(sessionStorage.getItem(ACTIVE_RUNS_KEY) ?? '{}') ?? {}
    } catch {}
    await Promise.all(
      Object.entries(stored).map(async ([runId, threadId]) => {
        try {
          const run = await api.run(runId)
          if (run.status === 'running') this.socket.track(runId, run.threadId ?? threadId)
        } catch {}
      }),
    )
    const still: Record<string, string> = {}
    for (const r of this.socket.runs.unfinished()) still[r.runId] = r.threadId
    sessionStorage.setItem(ACTIVE_RUNS_KEY, JSON.stringify(still))
  }

  async #loadPickers() {
    const [agents, models] = await Promise.allSettled([api.agents(), api.models()])
    if (agents.status === 'fulfilled') {
      this.ctx.agents = agents.value
      // The router agent is what people get by default: call it "Auto", not by its internal role.
      for (const a of agents.value as Agent[]) this.#agents.set(a.id, a.id === 'triage' ? 'Auto' : a.name)
    }
    if (models.status === 'fulfilled') this.ctx.models = models.value
    else this.ctx.models = { models: [], failed: true, error: (models.reason as Error)?.message }
  }

  route() {
    const hash = decodeURIComponent(location.hash.replace(/^#\/?/, ''))
    // `#/c/<thread>/<message>`: the branch through that message (a version switch or a search jump).
    const [section, id, leaf] = hash.split('/')
    const current = this.#view
    if (
      section === 'c' &&
      id &&
      current instanceof ChatView &&
      current.threadId === id &&
      current.leaf === (leaf || undefined)
    )
      return
    current?.dispose()
    let view: View
    let threadId: string | undefined
    if (section === 'notes') {
      view = new NotesView(this.ctx)
      document.title = 'Notes · Local Chat'
    } else if (section === 'datasets') {
      view = new DatasetsView(this.ctx)
      document.title = 'Datasets · Local Chat'
    } else if (section === 'settings' && id === 'api-keys') {
      view = new ApiKeysView(this.ctx)
      document.title = 'API keys · Settings · Local Chat'
    } else if (section === 'settings') {
      view = new SettingsView(this.ctx)
      document.title = 'Settings · Local Chat'
    } else if (section === 'usage') {
      view = new UsageView(this.ctx)
      document.title = 'Usage · Local Chat'
    } else if (section === 'admin' && id && ADMIN_VIEWS[id]) {
      view = new ADMIN_VIEWS[id](this.ctx)
      document.title = `Admin · ${id[0].toUpperCase()}${id.slice(1)} · Local Chat`
    } else if (section === 'documents') {
      view = new DocumentsView(this.ctx)
      document.title = 'Documents · Local Chat'
    } else {
      threadId = section === 'c' && id ? id : undefined
      view = new ChatView(this.ctx, threadId, (threadId && leaf) || undefined)
      document.title = 'Local Chat'
    }
    this.#view = view
    this.#threads.setCurrent(threadId)
    // A chat created elsewhere (another tab, the API) that the list doesn't show yet.
    if (threadId && !this.#threads.threads.some((t) => t.id === threadId)) this.#threads.refreshSoon(0)
    // The most specific link is the current one (`settings/api-keys` over `settings`).
    const links = [...this.#sidebar.querySelectorAll<HTMLAnchorElement>('.page-link')]
    const currentPage = links.some((l) => l.dataset.page === `${section}/${id}`) ? `${section}/${id}` : section
    for (const link of links) {
      if (link.dataset.page === currentPage) link.setAttribute('aria-current', 'page')
      else link.removeAttribute('aria-current')
    }
    this.#main.replaceChildren(view.el)
    const wasOpen = this.#sidebar.classList.contains('open')
    this.#toggleSidebar(false)
    // On touch screens focusing the composer would pop the keyboard up on every navigation.
    if (view instanceof ChatView && matchMedia('(pointer: fine)').matches) view.focus()
    else if (wasOpen || view instanceof ChatView) this.#main.focus()
    else view.el.querySelector<HTMLElement>('input, textarea')?.focus()
  }

  #toggleSidebar(open = !this.#sidebar.classList.contains('open')) {
    this.#sidebar.classList.toggle('open', open)
    document.body.classList.toggle('sidebar-open', open)
    this.#menuBtn.setAttribute('aria-expanded', String(open))
    if (open) this.#sidebar.querySelector<HTMLElement>('.new-chat')?.focus()
  }

  #showConnection(status: string) {
    const text: Record<string, string> = {
      connecting: 'Connecting…',
      reconnecting: 'Reconnecting…',
      polling: 'Connection lost — following answers over HTTP',
      open: '',
      idle: '',
      stopped: '',
    }
    this.#connection.textContent = text[status] ?? ''
    this.#connection.dataset.status = status
    document.body.dataset.connection = status
  }

  async signOut() {
    const refreshToken = session.session?.refreshToken
    this.dispose()
    app = undefined
    sessionStorage.removeItem(ACTIVE_RUNS_KEY)
    session.clear('logout')
    if (refreshToken) await api.logout(refreshToken).catch(() => {})
    history.replaceState(null, '', '#/')
    showAuth()
  }

  dispose() {
    this.#view?.dispose()
    this.#view = undefined
    for (const d of this.#disposers) d()
    this.#disposers = []
    this.socket.stop()
  }
}

// Another tab signed in, refreshed or signed out.
window.addEventListener('storage', (e) => {
  if (e.key !== SESSION_KEY && e.key !== null) return
  const before = session.session?.user?.id
  session.syncFromStorage()
  const after = session.session?.user?.id
  if (after && after !== before) start()
})

session.onChange((change) => {
  if (change.kind === 'signed-out' && app) {
    app.dispose()
    app = undefined
    sessionStorage.removeItem(ACTIVE_RUNS_KEY)
    showAuth(change.reason === 'expired' ? 'Your session has ended. Please sign in again.' : undefined)
  }
})

start()
