/**
 * The chat client the views use (PROTOCOL.md §3), separate from any rendering. It joins two
 * parts and adds the requests:
 *
 *  - the transport (transport.ts): the WebSocket, auth, reconnect with back-off, token refresh
 *    on CLOSE_CODES.unauthorized, heartbeat — its lifecycle one explicit TransportState;
 *  - the run stream (run-stream.ts): every run's events exactly once and in seq order, resumed
 *    from the last seq after a reconnect, polled over HTTP while the socket cannot be used;
 *  - requests: `chat`/`regenerate` wait for the socket and resolve on `run_accepted`, `cancel`.
 */
import {
  type ClientFrame,
  type ControlFrame,
  ERROR_CODES,
  isRunEvent,
  type RunEvent,
  type ServerFrame,
} from '../../protocol'
import { type ActiveRunStore, RunStream } from './run-stream'
import type { RunSequencer, RunState } from './runs'
import { toEpochMs } from './session'
import { Transport, type WebSocketLike } from './transport'
import { failuresOf, type TransportState } from './transport-state'

export type { ActiveRunStore } from './run-stream'
export type { TransportState } from './transport-state'

/** The connection as the app shows it (derived from the transport state and the HTTP fallback). */
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

export interface ChatSocketOptions {
  url: string
  /** The current access token (refreshed first if it is about to expire); undefined = signed out. */
  getToken(): Promise<string | undefined>
  /** Forces a refresh after the server rejected the token (closed with CLOSE_CODES.unauthorized). */
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

/** What the app shows for a transport state, given whether runs are being polled over HTTP. */
export function socketStatus(state: TransportState, polling: boolean): SocketStatus {
  switch (state.kind) {
    case 'idle':
    case 'open':
    case 'stopped':
      return state.kind
    case 'connecting':
      return polling ? 'polling' : state.failures === 0 ? 'connecting' : 'reconnecting'
    case 'waiting':
      return polling ? 'polling' : 'reconnecting'
  }
}

export class ChatSocket {
  readonly #transport: Transport
  readonly #stream: RunStream
  readonly #pollAfterFailures: number
  readonly #onTokenExpiring: ChatSocketOptions['onTokenExpiring']
  #status: SocketStatus = 'idle'
  #pendingChats = new Map<string, PendingChat>()
  #statusListeners = new Set<Listener<SocketStatus>>()
  #frameListeners = new Set<Listener<ControlFrame>>()
  userId: string | undefined
  connectionId: string | undefined

  constructor(options: ChatSocketOptions) {
    this.#pollAfterFailures = options.pollAfterFailures ?? 2
    this.#onTokenExpiring = options.onTokenExpiring
    this.#transport = new Transport(
      {
        url: options.url,
        getToken: options.getToken,
        refreshToken: options.refreshToken,
        signedIn: options.signedIn,
        // Looked up at each connect, so a replaced global (a test's WebSocket route) is honoured.
        WebSocket:
          options.WebSocket ??
          // biome-ignore lint/complexity/useArrowFunction: called with `new`, which an arrow function refuses
          (function (url: string) {
            return new (globalThis as any).WebSocket(url)
          } as unknown as new (
            url: string,
          ) => WebSocketLike),
        backoffInitialMs: options.backoffInitialMs ?? 500,
        backoffMaxMs: options.backoffMaxMs ?? 15_000,
        heartbeatMs: options.heartbeatMs ?? 15_000,
        random: options.random ?? Math.random,
      },
      {
        onState: (state, previous) => this.#onState(state, previous),
        onFrame: (frame) => this.#onFrame(frame),
      },
    )
    this.#stream = new RunStream({
      send: (frame) => this.#transport.send(frame),
      isOpen: () => this.#transport.state.kind === 'open',
      fetchEvents: options.fetchEvents,
      activeRuns: options.activeRuns,
      pollIntervalMs: options.pollIntervalMs ?? 1_000,
      gapFillDelayMs: options.gapFillDelayMs ?? 150,
      onPollingChange: () => this.#updateStatus(),
    })
  }

  // ---- subscriptions ---------------------------------------------------------------------

  /** The runs followed, with their events so far (views replay them when they attach). */
  get runs(): RunSequencer {
    return this.#stream.runs
  }
  /** The transport's lifecycle state. */
  get state(): TransportState {
    return this.#transport.state
  }
  get status(): SocketStatus {
    return this.#status
  }
  get isReady(): boolean {
    return this.#transport.state.kind === 'open'
  }
  onStatus(fn: Listener<SocketStatus>) {
    this.#statusListeners.add(fn)
    return () => this.#statusListeners.delete(fn)
  }
  /** Run events, each exactly once, in seq order per run. */
  onEvent(fn: Listener<RunEvent>) {
    return this.#stream.onEvent(fn)
  }
  /** Control frames: run_accepted, error, auth_ok, token_expiring, ready… */
  onFrame(fn: Listener<ControlFrame>) {
    this.#frameListeners.add(fn)
    return () => this.#frameListeners.delete(fn)
  }

  #updateStatus() {
    const status = socketStatus(this.#transport.state, this.#stream.polling)
    if (this.#status === status) return
    this.#status = status
    for (const fn of [...this.#statusListeners]) fn(status)
  }

  // ---- lifecycle -------------------------------------------------------------------------

  start() {
    this.#transport.start()
  }

  /** Closes for good (sign-out); pending requests fail. */
  stop() {
    this.#transport.stop()
  }

  /** Reconnects now instead of after the back-off (e.g. the browser came back online). */
  reconnectNow() {
    this.#transport.reconnectNow()
  }

  /** The browser reports it went offline: the socket is as good as dead. */
  networkLost() {
    this.#transport.networkLost()
  }

  #onState(state: TransportState, previous: TransportState) {
    if (state.kind === 'stopped') {
      this.#stream.dispose()
      this.#failPending(() => true, ERROR_CODES.stopped, 'the connection was closed')
    } else if (state.kind === 'waiting') {
      // A chat frame that went out but was never accepted may or may not have started a run;
      // its events (if any) still reach us after reconnecting. The caller decides what to show.
      if (previous.kind === 'connecting' || previous.kind === 'open')
        this.#failPending(
          (p) => p.sent,
          ERROR_CODES.connectionLost,
          'the connection dropped before the server confirmed the message',
        )
      if (failuresOf(state) >= this.#pollAfterFailures) this.#stream.startPolling()
    }
    this.#updateStatus()
  }

  #failPending(which: (p: PendingChat) => boolean, code: string, message: string) {
    for (const [id, p] of this.#pendingChats) {
      if (!which(p)) continue
      this.#pendingChats.delete(id)
      p.reject(new SocketRequestError(code, message))
    }
  }

  // ---- frames ----------------------------------------------------------------------------

  #onFrame(frame: ServerFrame) {
    if (isRunEvent(frame)) {
      this.#stream.deliver(frame)
      return
    }
    switch (frame.type) {
      case 'ready':
        this.userId = frame.userId
        this.connectionId = frame.connectionId
        // Catch up every run we know is unfinished, then send what waited for the socket.
        this.#stream.resumeAll()
        for (const [, p] of this.#pendingChats) {
          if (!p.sent) p.sent = this.#transport.send(p.frame)
        }
        break
      case 'token_expiring':
        this.#onTokenExpiring?.(toEpochMs(frame.expiresAt as number | string | undefined))
        break
      case 'run_accepted': {
        this.#stream.accepted(frame.runId, frame.threadId)
        const pending = this.#pendingChats.get(frame.requestId)
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
          pending.reject(
            new SocketRequestError(frame.code ?? ERROR_CODES.internalError, frame.message ?? 'request failed'),
          )
        }
        // A resume for a run that no longer exists (thread deleted): stop following it.
        if (frame.runId && frame.code === ERROR_CODES.notFound) this.#stream.gone(frame.runId)
        break
      }
    }
    for (const fn of [...this.#frameListeners]) fn(frame)
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
      if (this.isReady) pending.sent = this.#transport.send(frame)
    })
    return { requestId, accepted }
  }

  /** Asks the server to stop a run (it ends with agent_completed status cancelled). */
  cancel(runId: string): boolean {
    return this.#transport.send({ type: 'cancel', runId })
  }

  /**
   * Follows a run known from elsewhere (a page reload, or a thread whose last run is still
   * going): its events from the start are replayed.
   */
  track(runId: string, threadId: string) {
    this.#stream.track(runId, threadId)
  }

  /** Re-authenticates the live socket in-band after a token refresh. */
  updateToken(token: string) {
    this.#transport.updateToken(token)
  }

  /** Active runs whose thread is `threadId`. */
  activeRunsOf(threadId: string): RunState[] {
    return this.#stream.activeRunsOf(threadId)
  }
}
