import type { SessionManager } from './session'
import type {
  Agent,
  ApiKey,
  Dataset,
  DocumentInfo,
  Message,
  Note,
  Page,
  RunEvent,
  RunInfo,
  SearchResult,
  Share,
  Thread,
  User,
} from './types'

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

interface RequestOptions {
  method?: string
  body?: unknown
  /** Send the bearer token (default true). */
  auth?: boolean
  /** A multipart body (file uploads) instead of JSON. */
  form?: FormData
  signal?: AbortSignal
}

async function errorOf(res: Response): Promise<ApiError> {
  let code = `http_${res.status}`
  let message = res.statusText || `request failed (${res.status})`
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } }
    if (body?.error?.code) code = body.error.code
    if (body?.error?.message) message = body.error.message
  } catch {}
  return new ApiError(res.status, code, message)
}

/** A body that is JSON text already (an import file): sent as is. */
class RawJson {
  constructor(readonly text: string) {}
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>

export type SessionAnswer = { user: User; accessToken: string; refreshToken: string; expiresIn: number }

/** The HTTP API of PROTOCOL.md §2, with the bearer token attached and one refresh-and-retry on 401. */
export class Api {
  constructor(
    private readonly session: SessionManager,
    private readonly fetchImpl: FetchLike = (input, init) => fetch(input, init),
  ) {}

  async request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    const send = async (token: string | undefined) => {
      const headers: Record<string, string> = {}
      if (opts.body !== undefined) headers['content-type'] = 'application/json'
      if (token) headers.authorization = `Bearer ${token}`
      return this.fetchImpl(path, {
        method: opts.method ?? (opts.body === undefined && !opts.form ? 'GET' : 'POST'),
        headers,
        body:
          opts.form ??
          (opts.body === undefined
            ? undefined
            : opts.body instanceof RawJson
              ? opts.body.text
              : JSON.stringify(opts.body)),
        signal: opts.signal,
      })
    }
    const auth = opts.auth !== false
    let token = auth ? await this.session.freshToken() : undefined
    if (auth && !token) throw new ApiError(401, 'signed_out', 'please sign in again')
    let res = await send(token)
    if (res.status === 401 && auth) {
      token = await this.session.refresh()
      if (!token) throw new ApiError(401, 'signed_out', 'your session has ended, please sign in again')
      res = await send(token)
    }
    if (!res.ok) throw await errorOf(res)
    if (res.status === 204) return undefined as T
    const text = await res.text()
    return (text ? JSON.parse(text) : undefined) as T
  }

  // ---- auth ------------------------------------------------------------------------------
  register(email: string, password: string, name?: string) {
    return this.request<SessionAnswer>('/api/auth/register', {
      body: { email, password, ...(name ? { name } : {}) },
      auth: false,
    })
  }
  login(email: string, password: string) {
    return this.request<SessionAnswer>('/api/auth/login', { body: { email, password }, auth: false })
  }
  logout(refreshToken: string) {
    return this.request<void>('/api/auth/logout', { body: { refreshToken }, auth: false })
  }
  /** True on a fresh server: no account yet, so the first one (the admin) is to be created. */
  async needsAdmin(): Promise<boolean> {
    try {
      const res = await this.fetchImpl('/api/setup')
      return res.ok && ((await res.json()) as { needsAdmin?: boolean }).needsAdmin === true
    } catch {
      return false
    }
  }

  /** Starts linking an SSO identity to the signed-in account: the provider URL to go to. */
  async oidcLinkUrl(): Promise<string> {
    return (await this.request<{ url: string }>('/api/auth/oidc/link', { method: 'POST' })).url
  }
  async oidcEnabled(): Promise<boolean> {
    try {
      const res = await this.fetchImpl('/api/auth/oidc/config')
      if (!res.ok) return false
      const body = (await res.json()) as { enabled?: boolean }
      return body?.enabled === true
    } catch {
      return false
    }
  }

  /** Every item of a paged list, page after page (for lists that are short by nature). */
  async #all<T>(path: string, key: string, limit = 200): Promise<T[]> {
    const items: T[] = []
    let cursor: string | null = null
    do {
      const sep = path.includes('?') ? '&' : '?'
      const body: Record<string, unknown> & { nextCursor?: string | null } = await this.request(
        `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      )
      items.push(...((body[key] as T[]) ?? []))
      cursor = body.nextCursor ?? null
    } while (cursor)
    return items
  }

  // ---- threads ---------------------------------------------------------------------------
  async threads() {
    return (await this.threadPage()).items
  }
  /** One page of the thread list: pinned first, then newest; `archived` lists the archived ones. */
  async threadPage(opts: { cursor?: string | null; limit?: number; archived?: boolean } = {}): Promise<Page<Thread>> {
    const query = new URLSearchParams({ limit: String(opts.limit ?? 50) })
    if (opts.cursor) query.set('cursor', opts.cursor)
    if (opts.archived) query.set('archived', 'true')
    const body = await this.request<{ threads: Thread[]; nextCursor: string | null }>(`/api/threads?${query}`)
    return { items: body.threads, nextCursor: body.nextCursor ?? null }
  }
  async updateThread(id: string, changes: { title?: string; pinned?: boolean; archived?: boolean }) {
    return (
      await this.request<{ thread: Thread }>(`/api/threads/${encodeURIComponent(id)}`, {
        method: 'PATCH',
        body: changes,
      })
    ).thread
  }
  async createThread(title?: string) {
    return (await this.request<{ thread: Thread }>('/api/threads', { body: title ? { title } : {} })).thread
  }
  async thread(id: string) {
    return (await this.request<{ thread: Thread }>(`/api/threads/${encodeURIComponent(id)}`)).thread
  }
  async renameThread(id: string, title: string) {
    return (
      await this.request<{ thread: Thread }>(`/api/threads/${encodeURIComponent(id)}`, {
        method: 'PATCH',
        body: { title },
      })
    ).thread
  }
  deleteThread(id: string) {
    return this.request<void>(`/api/threads/${encodeURIComponent(id)}`, { method: 'DELETE' })
  }
  /** The whole branch (default: the current one; `leaf`: the one through that message, to its end). */
  messages(threadId: string, leaf?: string) {
    const base = `/api/threads/${encodeURIComponent(threadId)}/messages${leaf ? `?leaf=${encodeURIComponent(leaf)}&follow=latest` : ''}`
    return this.#all<Message>(base, 'messages')
  }
  /** A download of the thread (JSON: every branch; Markdown: the current branch). */
  async exportThread(threadId: string, format: 'json' | 'markdown'): Promise<{ blob: Blob; fileName: string }> {
    const token = await this.session.freshToken()
    const res = await this.fetchImpl(`/api/threads/${encodeURIComponent(threadId)}/export?format=${format}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    })
    if (!res.ok) throw await errorOf(res)
    const name =
      /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ??
      `chat.${format === 'json' ? 'json' : 'md'}`
    return { blob: await res.blob(), fileName: name }
  }
  /** Imports a file's text as it is (a chat or account export of ours, or a ChatGPT conversations.json). */
  async importThreads(text: string) {
    return (
      await this.request<{ threads: { id: string; title: string }[] }>('/api/threads/import', {
        body: new RawJson(text),
      })
    ).threads
  }

  // ---- search and shares -----------------------------------------------------------------
  search(q: string, opts: { cursor?: string | null; limit?: number; signal?: AbortSignal } = {}) {
    const query = new URLSearchParams({ q, limit: String(opts.limit ?? 20) })
    if (opts.cursor) query.set('cursor', opts.cursor)
    return this.request<{ results: SearchResult[]; nextCursor: string | null }>(`/api/search?${query}`, {
      signal: opts.signal,
    })
  }
  async share(threadId: string) {
    return (
      await this.request<{ share: Share }>(`/api/threads/${encodeURIComponent(threadId)}/share`, { method: 'POST' })
    ).share
  }
  shares() {
    return this.#all<Share>('/api/shares', 'shares')
  }
  revokeShare(id: string) {
    return this.request<void>(`/api/shares/${encodeURIComponent(id)}`, { method: 'DELETE' })
  }

  // ---- runs ------------------------------------------------------------------------------
  async run(runId: string) {
    return (await this.request<{ run: RunInfo }>(`/api/runs/${encodeURIComponent(runId)}`)).run
  }
  runEvents(runId: string, after: number) {
    return this.request<{ events: RunEvent[]; done: boolean }>(
      `/api/runs/${encodeURIComponent(runId)}/events?after=${after}`,
    )
  }

  // ---- agents & models -------------------------------------------------------------------
  async agents() {
    return (await this.request<{ agents: Agent[] }>('/api/agents')).agents
  }
  async models(): Promise<{ models: string[]; default?: string }> {
    const body = await this.request<{ models: unknown[]; default?: string }>('/api/models')
    const models = (body.models ?? [])
      .map((m: any) => (typeof m === 'string' ? m : (m?.name ?? m?.model)))
      .filter((m): m is string => typeof m === 'string' && m.length > 0)
    return { models, default: body.default }
  }

  // ---- notes -----------------------------------------------------------------------------
  notes() {
    return this.#all<Note>('/api/notes', 'notes')
  }
  async addNote(title: string, body: string) {
    return (await this.request<{ note: Note }>('/api/notes', { body: { title, body } })).note
  }
  deleteNote(id: string) {
    return this.request<void>(`/api/notes/${encodeURIComponent(id)}`, { method: 'DELETE' })
  }

  // ---- datasets --------------------------------------------------------------------------
  datasets() {
    return this.#all<Dataset>('/api/datasets', 'datasets')
  }
  async uploadDataset(name: string, csv: string) {
    return (await this.request<{ dataset: Dataset }>('/api/datasets', { body: { name, csv } })).dataset
  }
  dataset(id: string) {
    return this.request<{ dataset: Dataset; rows: Record<string, unknown>[] | unknown[][] }>(
      `/api/datasets/${encodeURIComponent(id)}`,
    )
  }
  deleteDataset(id: string) {
    return this.request<void>(`/api/datasets/${encodeURIComponent(id)}`, { method: 'DELETE' })
  }

  // ---- API keys (Settings) ---------------------------------------------------------------
  apiKeys(cursor?: string) {
    return this.request<{ keys: ApiKey[]; nextCursor: string | null }>(
      `/api/keys?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    )
  }
  createApiKey(name: string, expiresInDays?: number) {
    return this.request<{ key: ApiKey; secret: string }>('/api/keys', {
      body: { name, ...(expiresInDays ? { expiresInDays } : {}) },
    })
  }
  revokeApiKey(id: string) {
    return this.request<void>(`/api/keys/${encodeURIComponent(id)}`, { method: 'DELETE' })
  }

  // ---- documents -------------------------------------------------------------------------
  async documents() {
    return (await this.request<{ documents: DocumentInfo[]; nextCursor: string | null }>('/api/documents?limit=200'))
      .documents
  }
  async uploadDocument(file: File) {
    const form = new FormData()
    form.append('file', file, file.name)
    return (await this.request<{ document: DocumentInfo }>('/api/documents', { form })).document
  }
  deleteDocument(id: string) {
    return this.request<void>(`/api/documents/${encodeURIComponent(id)}`, { method: 'DELETE' })
  }
}
