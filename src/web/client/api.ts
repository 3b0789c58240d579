import type { SessionManager } from './session'
import type { Agent, Dataset, Message, Note, RunEvent, RunInfo, Thread, User } from './types'

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
        method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
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
    return this.request<SessionAnswer>('/api/auth/register', { body: { email, password, ...(name ? { name } : {}) }, auth: false })
  }
  login(email: string, password: string) {
    return this.request<SessionAnswer>('/api/auth/login', { body: { email, password }, auth: false })
  }
  logout(refreshToken: string) {
    return this.request<void>('/api/auth/logout', { body: { refreshToken }, auth: false })
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

  // ---- threads ---------------------------------------------------------------------------
  async threads() {
    return (await this.request<{ threads: Thread[] }>('/api/threads')).threads
  }
  async createThread(title?: string) {
    return (await this.request<{ thread: Thread }>('/api/threads', { body: title ? { title } : {} })).thread
  }
  async thread(id: string) {
    return (await this.request<{ thread: Thread }>(`/api/threads/${encodeURIComponent(id)}`)).thread
  }
  async renameThread(id: string, title: string) {
    return (await this.request<{ thread: Thread }>(`/api/threads/${encodeURIComponent(id)}`, { method: 'PATCH', body: { title } })).thread
  }
  deleteThread(id: string) {
    return this.request<void>(`/api/threads/${encodeURIComponent(id)}`, { method: 'DELETE' })
  }
  async messages(threadId: string) {
    return (await this.request<{ messages: Message[] }>(`/api/threads/${encodeURIComponent(threadId)}/messages`)).messages
  }

  // ---- runs ------------------------------------------------------------------------------
  async run(runId: string) {
    return (await this.request<{ run: RunInfo }>(`/api/runs/${encodeURIComponent(runId)}`)).run
  }
  runEvents(runId: string, after: number) {
    return this.request<{ events: RunEvent[]; done: boolean }>(`/api/runs/${encodeURIComponent(runId)}/events?after=${after}`)
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
  async notes() {
    return (await this.request<{ notes: Note[] }>('/api/notes')).notes
  }
  async addNote(title: string, body: string) {
    return (await this.request<{ note: Note }>('/api/notes', { body: { title, body } })).note
  }
  deleteNote(id: string) {
    return this.request<void>(`/api/notes/${encodeURIComponent(id)}`, { method: 'DELETE' })
  }

  // ---- datasets --------------------------------------------------------------------------
  async datasets() {
    return (await this.request<{ datasets: Dataset[] }>('/api/datasets')).datasets
  }
  async uploadDataset(name: string, csv: string) {
    return (await this.request<{ dataset: Dataset }>('/api/datasets', { body: { name, csv } })).dataset
  }
  dataset(id: string) {
    return this.request<{ dataset: Dataset; rows: Record<string, unknown>[] | unknown[][] }>(`/api/datasets/${encodeURIComponent(id)}`)
  }
  deleteDataset(id: string) {
    return this.request<void>(`/api/datasets/${encodeURIComponent(id)}`, { method: 'DELETE' })
  }
}
