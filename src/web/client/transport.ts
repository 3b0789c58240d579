/**
 * The browser's WebSocket transport (PROTOCOL.md §3), knowing nothing of runs or chats:
 *
 *  - connects, sends `auth` first and waits for `ready`;
 *  - re-authenticates a live socket in-band (`auth` → `auth_ok`) whenever the token changes;
 *  - reconnects with exponential back-off and jitter when the socket drops, refreshing the token
 *    first when it was closed for an expired one (CLOSE_CODES.unauthorized);
 *  - pings a silent socket and replaces it when the ping goes unanswered.
 *
 * Its lifecycle is one TransportState value changed only by nextTransportState
 * (transport-state.ts); this class performs the effects each state asks for (open a socket,
 * arm the back-off timer, run the heartbeat) and passes every parsed frame on.
 */
import { CLOSE_CODES, type ClientFrame, type ServerFrame } from '../../protocol'
import { type BackoffConfig, nextTransportState, type TransportEvent, type TransportState } from './transport-state'

export interface WebSocketLike {
  readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  onopen: ((ev: any) => void) | null
  onmessage: ((ev: { data: any }) => void) | null
  onclose: ((ev: { code: number; reason?: string }) => void) | null
  onerror: ((ev: any) => void) | null
}

/** WebSocket.OPEN, named (the constant is not on the injected constructors of tests). */
const SOCKET_OPEN = 1

export interface TransportOptions extends BackoffConfig {
  url: string
  /** The current access token (refreshed first if it is about to expire); undefined = signed out. */
  getToken(): Promise<string | undefined>
  /** Forces a refresh after the server rejected the token (CLOSE_CODES.unauthorized). */
  refreshToken(): Promise<string | undefined>
  /** Whether a session still exists when no token could be had (then retry rather than stop). */
  signedIn?(): boolean
  WebSocket: new (url: string) => WebSocketLike
  /** Silence after which a ping is sent; twice this without any frame closes the socket. */
  heartbeatMs: number
}

export interface TransportHandlers {
  /** Every state change, after the transport did its own part (e.g. re-auth on `open`). */
  onState(state: TransportState, previous: TransportState): void
  /** Every frame received, parsed (after `ready` moved the state to `open`). */
  onFrame(frame: ServerFrame): void
}

export class Transport {
  #state: TransportState = { kind: 'idle' }
  #ws: WebSocketLike | undefined
  #retryTimer: ReturnType<typeof setTimeout> | undefined
  #heartbeatTimer: ReturnType<typeof setInterval> | undefined
  #lastFrameAt = 0
  #pingSentAt = 0
  /** The newest token we were given. */
  #token: string | undefined
  /** The token the current socket authenticated with. */
  #authToken: string | undefined

  constructor(
    private readonly opts: TransportOptions,
    private readonly handlers: TransportHandlers,
  ) {}

  get state(): TransportState {
    return this.#state
  }

  start() {
    this.#dispatch({ type: 'start' })
  }

  /** Closes for good (sign-out). */
  stop() {
    this.#dispatch({ type: 'stop' })
  }

  /** Ends the back-off and tries now (the browser came back online); a live or opening socket is left alone. */
  reconnectNow() {
    this.#dispatch({ type: 'reconnect_now' })
  }

  /** The browser reports it went offline: the socket is as good as dead. */
  networkLost() {
    if (this.#ws) this.#drop()
  }

  /** Sends on the open socket; false when there is none to send on. */
  send(frame: ClientFrame): boolean {
    const ws = this.#ws
    if (ws?.readyState !== SOCKET_OPEN) return false
    try {
      ws.send(JSON.stringify(frame))
      return true
    } catch {
      return false
    }
  }

  /** Re-authenticates the live socket in-band after a token refresh. */
  updateToken(token: string) {
    this.#token = token
    if (this.#state.kind === 'open' && token !== this.#authToken) this.#sendAuth(token)
  }

  // ---- the state machine's effects -------------------------------------------------------

  #dispatch(event: TransportEvent) {
    const previous = this.#state
    const state = nextTransportState(previous, event, this.opts)
    if (state === previous) return
    this.#state = state
    this.#leave(previous)
    this.#enter(state)
    this.handlers.onState(state, previous)
  }

  #leave(previous: TransportState) {
    if (previous.kind === 'waiting') clearTimeout(this.#retryTimer)
    if (previous.kind === 'open') clearInterval(this.#heartbeatTimer)
  }

  #enter(state: TransportState) {
    switch (state.kind) {
      case 'connecting':
        void this.#open(state)
        break
      case 'open':
        this.#startHeartbeat()
        // A token changed while the socket was authenticating goes out now.
        if (this.#token && this.#token !== this.#authToken) this.#sendAuth(this.#token)
        break
      case 'waiting':
        this.#retryTimer = setTimeout(() => this.#dispatch({ type: 'retry' }), state.delayMs)
        break
      case 'stopped':
        this.#detach(CLOSE_CODES.normal, 'bye')
        break
    }
  }

  /** One connection attempt; it gives up silently when the state moved on while it awaited the token. */
  async #open(attempt: Extract<TransportState, { kind: 'connecting' }>) {
    let token: string | undefined
    try {
      token = attempt.refresh ? await this.opts.refreshToken() : await this.opts.getToken()
    } catch {
      token = undefined
    }
    if (this.#state !== attempt) return
    if (!token) {
      // No token while a session exists: the refresh endpoint is unreachable, so try again later.
      // No session at all: signed out; the session layer tells the app.
      this.#dispatch(this.opts.signedIn?.() ? { type: 'failed' } : { type: 'stop' })
      return
    }
    this.#token = token
    let ws: WebSocketLike
    try {
      ws = new this.opts.WebSocket(this.opts.url)
    } catch {
      this.#dispatch({ type: 'failed' })
      return
    }
    this.#ws = ws
    ws.onopen = () => {
      this.#lastFrameAt = Date.now()
      this.#authToken = token
      ws.send(JSON.stringify({ type: 'auth', token }))
    }
    ws.onmessage = (ev) => {
      if (this.#ws !== ws) return
      this.#lastFrameAt = Date.now()
      let frame: unknown
      try {
        frame = JSON.parse(typeof ev.data === 'string' ? ev.data : String(ev.data))
      } catch {
        return
      }
      if (!frame || typeof frame !== 'object') return
      if ((frame as ServerFrame).type === 'ready') this.#dispatch({ type: 'ready' })
      this.handlers.onFrame(frame as ServerFrame)
    }
    ws.onerror = () => {}
    ws.onclose = (ev) => {
      if (this.#ws !== ws) return
      this.#detach()
      this.#dispatch({ type: 'closed', code: ev.code })
    }
  }

  /** Gives up on the current socket without waiting for the close handshake of a dead network. */
  #drop() {
    this.#detach(CLOSE_CODES.reconnecting, 'reconnecting')
    this.#dispatch({ type: 'closed', code: CLOSE_CODES.reconnecting })
  }

  /** Forgets the current socket (closing it when a code is given); its late events are ignored. */
  #detach(code?: number, reason?: string) {
    const ws = this.#ws
    this.#ws = undefined
    if (!ws) return
    ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null
    if (code === undefined) return
    try {
      ws.close(code, reason)
    } catch {}
  }

  #sendAuth(token: string) {
    if (this.send({ type: 'auth', token })) this.#authToken = token
  }

  #startHeartbeat() {
    clearInterval(this.#heartbeatTimer)
    const every = this.opts.heartbeatMs
    this.#pingSentAt = 0
    this.#heartbeatTimer = setInterval(
      () => {
        if (this.#state.kind !== 'open') return
        const silent = Date.now() - this.#lastFrameAt
        if (this.#pingSentAt && silent > every * 2) {
          this.#drop() // no answer to our ping: the connection is dead
        } else if (silent >= every) {
          this.#pingSentAt = Date.now()
          this.send({ type: 'ping' })
        } else {
          this.#pingSentAt = 0
        }
      },
      Math.max(250, Math.floor(every / 3)),
    )
  }
}
