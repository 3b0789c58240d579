/**
 * The WebSocket protocol client (PROTOCOL.md §3), separate from any rendering:
 *
 *  - connects, sends `auth` first and waits for `ready`;
 *  - re-authenticates a live socket in-band (`auth` → `auth_ok`) whenever the token changes;
 *  - reconnects with exponential backoff and jitter when the socket drops, forcing a token
 *    refresh first when it was closed for an expired token (CLOSE_CODES.unauthorized);
 *  - tracks the last seq of every unfinished run and sends `resume` for each after a reconnect;
 *  - delivers each run's events exactly once and in seq order (duplicates dropped, gaps filled
 *    by `resume` or the HTTP fallback);
 *  - falls back to polling `GET /api/runs/:id/events?after=N` while the socket cannot be used.
 */
import { RunSequencer, type RunState } from './runs'
import {
  CLOSE_CODES,
  isRunEvent,
  type ClientFrame,
  type ControlFrame,
  type RunEvent,
  type ServerFrame,
} from '../../protocol'
import { toEpochMs } from './session'

export type SocketStatus = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'polling' | 'stopped'

export interface ChatRequest {
  content: string
  threadId?: string
  agent?: string
  model?: string
  /** The message the new one follows (null: a new first message); absent: after the newest. */
  parentId?: string | null
  /** Instead of a new message: answer again the user message of this answer (a sibling answer). */
  regenerate?: string
}

export interface Accepted {
  runId: string
  threadId: string
  requestId: string
}

export class SocketRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

interface WebSocketLike {
  readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  onopen: ((ev: any) => void) | null
  onmessage: ((ev: { data: any }) => void) | null
  onclose: ((ev: { code: number; reason?: string }) => void) | null
  onerror: ((ev: any) => void) | null
}

/** Where the ids of unfinished runs (→ their thread) are kept, e.g. sessionStorage. */
export interface ActiveRunStore {
  save(runs: Record<string, string>): void
}

export interface ChatSocketOptions {
  url: string
  /** The current access token (refreshed first if it is about to expire); undefined = signed out. */
  getToken(): Promise<string | undefined>
  /** Forces a refresh after the server rejected the token (close 4401). */
  refreshToken(): Promise<string | undefined>
  /** Whether a session still exists when no token could be had (then retry rather than stop). */
  signedIn?(): boolean
  /** The server warned that the socket's token expires at this epoch-ms time. */
  onTokenExpiring?(expiresAtMs: number): void
  /** HTTP fallback: the run's events after `after` (GET /api/runs/:id/events). */
  fetchEvents?(runId: string, after: number): Promise<{ events: RunEvent[]; done: boolean }>
  /** Keeps the ids of unfinished runs (with their thread) across page reloads. */
  activeRuns?: ActiveRunStore
  WebSocket?: new (url: string) => WebSocketLike
  backoffInitialMs?: number
  backoffMaxMs?: number
  /** Failed connection attempts in a row before unfinished runs are polled over HTTP. */
  pollAfterFailures?: number
  pollIntervalMs?: number
  /** Silence after which a ping is sent; twice this without any frame closes the socket. */
  heartbeatMs?: number
  /** How long a gap in a run's seqs may stay before it is filled by resume / HTTP. */
  gapFillDelayMs?: number
  random?: () => number
}

type Listener<T> = (value: T) => void

let requestCounter = 0
const newRequestId = () =>
  `r${Date.now().toString(36)}${(++requestCounter).toString(36)}${Math.random().toString(36).slice(2, 6)}`

interface PendingChat {
  frame: ClientFrame
  sent: boolean
  resolve(accepted: Accepted): void
  reject(error: Error): void
}

export class ChatSocket {
  readonly runs = new RunSequencer()
  #opts: Required<Omit<ChatSocketOptions, 'fetchEvents' | 'activeRuns' | 'onTokenExpiring' | 'signedIn'>> &
    Pick<ChatSocketOptions, 'fetchEvents' | 'activeRuns' | 'onTokenExpiring' | 'signedIn'>
  #ws: WebSocketLike | undefined
  #status: SocketStatus = 'idle'
  #ready = false
  #stopped = true
  #connecting = false
  #failures = 0
  #forceRefresh = false
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined
  #heartbeatTimer: ReturnType<typeof setInterval> | undefined
  #pollTimer: ReturnType<typeof setTimeout> | undefined
  #polling = false
  #lastFrameAt = 0
  #pingSentAt = 0
  #token: string | undefined
  /** The token the current socket authenticated with. */
  #authToken: string | undefined
  #pendingChats = new Map<string, PendingChat>()
  #gapTimers = new Map<string, ReturnType<typeof setTimeout>>()
  #statusListeners = new Set<Listener<SocketStatus>>()
  #eventListeners = new Set<Listener<RunEvent>>()
  #frameListeners = new Set<Listener<ControlFrame>>()
  userId: string | undefined
  connectionId: string | undefined

  constructor(options: ChatSocketOptions) {
    this.#opts = {
      // Looked up at each connect, so a replaced global (a test's WebSocket route) is honoured.
      // biome-ignore lint/complexity/useArrowFunction: called with `new`, which an arrow function refuses
      WebSocket: function (url: string) {
        return new (globalThis as any).WebSocket(url)
      } as unknown as new (
        url: string,
      ) => WebSocketLike,
      backoffInitialMs: 500,
      backoffMaxMs: 15_000,
      pollAfterFailures: 2,
      pollIntervalMs: 1_000,
      heartbeatMs: 15_000,
      gapFillDelayMs: 150,
      random: Math.random,
      ...options,
    }
  }

  // ---- subscriptions ---------------------------------------------------------------------

  get status(): SocketStatus {
    return this.#status
  }
  get isReady(): boolean {
    return this.#ready
  }
  onStatus(fn: Listener<SocketStatus>) {
    this.#statusListeners.add(fn)
    return () => this.#statusListeners.delete(fn)
  }
  /** Run events, each exactly once, in seq order per run. */
  onEvent(fn: Listener<RunEvent>) {
    this.#eventListeners.add(fn)
    return () => this.#eventListeners.delete(fn)
  }
  /** Control frames: run_accepted, error, auth_ok, token_expiring, ready… */
  onFrame(fn: Listener<ControlFrame>) {
    this.#frameListeners.add(fn)
    return () => this.#frameListeners.delete(fn)
  }

  #setStatus(status: SocketStatus) {
    if (this.#status === status) return
    this.#status = status
    for (const fn of [...this.#statusListeners]) fn(status)
  }

  // ---- lifecycle -------------------------------------------------------------------------

  start() {
    if (!this.#stopped) return
    this.#stopped = false
    void this.#connect()
  }

  /** Closes for good (sign-out); pending requests fail. */
  stop() {
    this.#stopped = true
    clearTimeout(this.#reconnectTimer)
    clearInterval(this.#heartbeatTimer)
    clearTimeout(this.#pollTimer)
    for (const t of this.#gapTimers.values()) clearTimeout(t)
    this.#gapTimers.clear()
    this.#polling = false
    const ws = this.#ws
    this.#ws = undefined
    this.#ready = false
    if (ws) {
      ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null
      try {
        ws.close(CLOSE_CODES.normal, 'bye')
      } catch {}
    }
    for (const [id, p] of this.#pendingChats) {
      this.#pendingChats.delete(id)
      p.reject(new SocketRequestError('stopped', 'the connection was closed'))
    }
    this.#setStatus('stopped')
  }

  /** Drops the current socket and reconnects now (e.g. the browser came back online). */
  reconnectNow() {
    if (this.#stopped || this.#ws) return // a live or opening socket is left alone
    this.#failures = 0
    clearTimeout(this.#reconnectTimer)
    void this.#connect()
  }

  /** The browser reports it went offline: the socket is as good as dead. */
  networkLost() {
    if (this.#stopped || !this.#ws) return
    this.#dropSocket()
  }

  async #connect() {
    if (this.#stopped || this.#connecting || this.#ws) return
    this.#connecting = true
    try {
      await this.#open()
    } finally {
      this.#connecting = false
    }
  }

  async #open() {
    clearTimeout(this.#reconnectTimer)
    this.#setStatus(this.#failures === 0 && !this.#polling ? 'connecting' : this.#polling ? 'polling' : 'reconnecting')
    let token: string | undefined
    try {
      token = this.#forceRefresh ? await this.#opts.refreshToken() : await this.#opts.getToken()
    } catch {
      token = undefined
    }
    this.#forceRefresh = false
    if (this.#stopped) return
    if (!token) {
      if (this.#opts.signedIn?.()) {
        // No token right now (the refresh endpoint is unreachable): try again later.
        this.#failures++
        this.#scheduleReconnect()
      } else {
        this.stop() // signed out; the session layer tells the app
      }
      return
    }
    this.#token = token
    let ws: WebSocketLike
    try {
      ws = new this.#opts.WebSocket(this.#opts.url)
    } catch {
      this.#failures++
      this.#scheduleReconnect()
      return
    }
    this.#ws = ws
    this.#ready = false
    ws.onopen = () => {
      this.#lastFrameAt = Date.now()
      this.#authToken = token
      ws.send(JSON.stringify({ type: 'auth', token }))
    }
    ws.onmessage = (ev) => {
      if (this.#ws !== ws) return
      this.#lastFrameAt = Date.now()
      let frame: any
      try {
        frame = JSON.parse(typeof ev.data === 'string' ? ev.data : String(ev.data))
      } catch {
        return
      }
      if (frame && typeof frame === 'object') this.#onFrame(frame)
    }
    ws.onerror = () => {}
    ws.onclose = (ev) => {
      if (this.#ws !== ws) return
      this.#onClosed(ev.code)
    }
  }

  #dropSocket() {
    const ws = this.#ws
    if (!ws) return
    ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null
    try {
      ws.close(CLOSE_CODES.reconnecting, 'reconnecting')
    } catch {}
    // Don't wait for the close handshake of a dead network.
    this.#onClosed(CLOSE_CODES.reconnecting)
  }

  #onClosed(code: number) {
    const wasReady = this.#ready
    const ws = this.#ws
    if (ws) ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null
    this.#ws = undefined
    this.#ready = false
    clearInterval(this.#heartbeatTimer)
    // A chat frame that went out but was never accepted may or may not have started a run;
    // its events (if any) still reach us after reconnecting. The caller decides what to show.
    for (const [id, p] of this.#pendingChats) {
      if (!p.sent) continue
      this.#pendingChats.delete(id)
      p.reject(
        new SocketRequestError('connection_lost', 'the connection dropped before the server confirmed the message'),
      )
    }
    if (this.#stopped) return
    if (code === CLOSE_CODES.unauthorized) this.#forceRefresh = true
    if (!wasReady) this.#failures++
    this.#scheduleReconnect()
  }

  #scheduleReconnect() {
    if (this.#stopped) return
    const attempt = Math.max(0, this.#failures)
    const cap = Math.min(this.#opts.backoffMaxMs, this.#opts.backoffInitialMs * 2 ** attempt)
    // "Equal jitter": half fixed, half random, so many clients don't reconnect in lockstep.
    const delay = cap / 2 + this.#opts.random() * (cap / 2)
    if (this.#failures >= this.#opts.pollAfterFailures) this.#startPolling()
    this.#setStatus(this.#polling ? 'polling' : 'reconnecting')
    clearTimeout(this.#reconnectTimer)
    this.#reconnectTimer = setTimeout(() => void this.#connect(), delay)
  }

  // ---- frames ----------------------------------------------------------------------------

  #send(frame: ClientFrame): boolean {
    const ws = this.#ws
    if (ws?.readyState !== 1) return false
    try {
      ws.send(JSON.stringify(frame))
      return true
    } catch {
      return false
    }
  }

  #onFrame(frame: ServerFrame) {
    if (isRunEvent(frame)) {
      this.#deliver(frame)
      return
    }
    switch (frame.type) {
      case 'ready':
        this.#ready = true
        this.#failures = 0
        this.userId = frame.userId
        this.connectionId = frame.connectionId
        this.#stopPolling()
        this.#setStatus('open')
        this.#startHeartbeat()
        if (this.#token && this.#token !== this.#authToken) this.#sendAuth(this.#token)
        // Catch up every run we know is unfinished, then send what waited for the socket.
        for (const run of this.runs.unfinished())
          this.#send({ type: 'resume', runId: run.runId, afterSeq: run.lastSeq })
        for (const [, p] of this.#pendingChats) {
          if (!p.sent) p.sent = this.#send(p.frame)
        }
        break
      case 'token_expiring':
        this.#opts.onTokenExpiring?.(toEpochMs(frame.expiresAt as number | string | undefined))
        break
      case 'run_accepted': {
        const pending = this.#pendingChats.get(frame.requestId)
        this.runs.track(frame.runId, frame.threadId)
        this.#persist()
        if (pending) {
          this.#pendingChats.delete(frame.requestId)
          pending.resolve({ runId: frame.runId, threadId: frame.threadId, requestId: frame.requestId })
        }
        break
      }
      case 'error': {
        const pending = frame.requestId ? this.#pendingChats.get(frame.requestId) : undefined
        if (pending && frame.requestId) {
          this.#pendingChats.delete(frame.requestId)
          pending.reject(new SocketRequestError(frame.code ?? 'error', frame.message ?? 'request failed'))
        }
        // A resume for a run that no longer exists (thread deleted): stop tracking it.
        if (frame.runId && /not_found|unknown/.test(String(frame.code))) {
          const run = this.runs.get(frame.runId)
          if (run && !run.done) {
            this.runs.forget(frame.runId)
            this.#persist()
          }
        }
        break
      }
    }
    for (const fn of [...this.#frameListeners]) fn(frame)
  }

  #deliver(event: RunEvent) {
    const known = this.runs.get(event.runId)
    const ready = this.runs.accept(event)
    if (!known) this.#persist()
    for (const e of ready) {
      for (const fn of [...this.#eventListeners]) {
        try {
          fn(e)
        } catch (error) {
          console.error(error)
        }
      }
    }
    if (ready.some((e) => e.type === 'agent_completed')) this.#persist()
    if (this.runs.hasGap(event.runId)) this.#scheduleGapFill(event.runId)
  }

  #scheduleGapFill(runId: string) {
    if (this.#gapTimers.has(runId)) return
    this.#gapTimers.set(
      runId,
      setTimeout(() => {
        this.#gapTimers.delete(runId)
        const run = this.runs.get(runId)
        if (!run || run.done || !this.runs.hasGap(runId)) return
        if (this.#ready) this.#send({ type: 'resume', runId, afterSeq: run.lastSeq })
        else void this.#pollRun(run)
        // Check again later in case the fill itself was lost.
        this.#scheduleGapFill(runId)
      }, this.#opts.gapFillDelayMs),
    )
  }

  #startHeartbeat() {
    clearInterval(this.#heartbeatTimer)
    const every = this.#opts.heartbeatMs
    this.#pingSentAt = 0
    this.#heartbeatTimer = setInterval(
      () => {
        if (!this.#ready) return
        const silent = Date.now() - this.#lastFrameAt
        if (this.#pingSentAt && silent > every * 2) {
          this.#dropSocket() // no answer to our ping: the connection is dead
        } else if (silent >= every) {
          this.#pingSentAt = Date.now()
          this.#send({ type: 'ping' })
        } else {
          this.#pingSentAt = 0
        }
      },
      Math.max(250, Math.floor(every / 3)),
    )
  }

  // ---- HTTP fallback ---------------------------------------------------------------------

  #startPolling() {
    if (this.#polling || !this.#opts.fetchEvents) return
    if (this.runs.unfinished().length === 0) return
    this.#polling = true
    const loop = async () => {
      if (!this.#polling || this.#stopped) return
      await Promise.all(this.runs.unfinished().map((run) => this.#pollRun(run)))
      if (this.runs.unfinished().length === 0) {
        this.#polling = false
        if (!this.#ready && !this.#stopped) this.#setStatus('reconnecting')
        return
      }
      this.#pollTimer = setTimeout(loop, this.#opts.pollIntervalMs)
    }
    void loop()
  }

  #stopPolling() {
    this.#polling = false
    clearTimeout(this.#pollTimer)
  }

  async #pollRun(run: RunState) {
    if (!this.#opts.fetchEvents) return
    try {
      const { events } = await this.#opts.fetchEvents(run.runId, run.lastSeq)
      for (const event of events)
        this.#deliver({ ...event, runId: event.runId ?? run.runId, threadId: event.threadId ?? run.threadId })
    } catch (error: any) {
      if (error?.status === 404) {
        this.runs.forget(run.runId)
        this.#persist()
      }
    }
  }

  // ---- requests --------------------------------------------------------------------------

  /**
   * Starts a run. `accepted` resolves with its ids once the server accepted it (waiting for the
   * socket if it is down) and rejects on an `error` frame for this request.
   */
  chat(request: ChatRequest): { requestId: string; accepted: Promise<Accepted> } {
    const requestId = newRequestId()
    const options = { ...(request.agent && { agent: request.agent }), ...(request.model && { model: request.model }) }
    const frame: ClientFrame = request.regenerate
      ? { type: 'regenerate', requestId, messageId: request.regenerate, ...options }
      : {
          type: 'chat',
          requestId,
          content: request.content,
          ...(request.threadId && { threadId: request.threadId }),
          ...(request.parentId !== undefined && { parentId: request.parentId }),
          ...options,
        }
    const accepted = new Promise<Accepted>((resolve, reject) => {
      const pending: PendingChat = { frame, sent: false, resolve, reject }
      this.#pendingChats.set(requestId, pending)
      if (this.#ready) pending.sent = this.#send(frame)
    })
    return { requestId, accepted }
  }

  /** Asks the server to stop a run (it ends with agent_completed status cancelled). */
  cancel(runId: string): boolean {
    return this.#send({ type: 'cancel', runId })
  }

  /**
   * Follows a run known from elsewhere (a page reload, or a thread whose last run is still
   * going): its events from `afterSeq` on are replayed.
   */
  track(runId: string, threadId: string) {
    const known = this.runs.get(runId)
    const run = this.runs.track(runId, threadId)
    if (!known) {
      this.#persist()
      if (this.#ready) this.#send({ type: 'resume', runId, afterSeq: run.lastSeq })
      else if (this.#polling) void this.#pollRun(run)
    }
  }

  /** Re-authenticates the live socket in-band after a token refresh. */
  updateToken(token: string) {
    this.#token = token
    if (this.#ready && token !== this.#authToken) this.#sendAuth(token)
  }

  #sendAuth(token: string) {
    if (this.#send({ type: 'auth', token })) this.#authToken = token
  }

  /** Active runs whose thread is `threadId`. */
  activeRunsOf(threadId: string): RunState[] {
    return this.runs.unfinished().filter((r) => r.threadId === threadId)
  }

  #persist() {
    const store = this.#opts.activeRuns
    if (!store) return
    const map: Record<string, string> = {}
    for (const run of this.runs.unfinished()) map[run.runId] = run.threadId
    try {
      store.save(map)
    } catch {}
  }
}
