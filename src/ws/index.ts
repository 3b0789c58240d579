import { Elysia } from 'elysia'
import { createUserContext } from '../context/user-context'
import type { AccessTokens } from '../auth/tokens'
import { TokenError, type AccessClaims } from '../auth/tokens'
import type { SessionsService } from '../auth/sessions/service'
import { AppError, QuotaExceededError } from '../http/errors'
import { log } from '../log'
import { CLOSE_CODES, type ClientFrame, type ErrorFrame } from '../protocol'
import type { RunManager, StartRunInput } from '../runs/service'
import { Connection, type RawSocket } from './connection'
import type { ConnectionRegistry } from './registry'
import { parseClientFrame } from './frames'
import { INBOUND_DEFAULTS, InboundQueue, frameBytes, type InboundLimits } from './inbound'

export interface WsOptions {
  access: AccessTokens
  /** Ended sessions close their sockets with 4401 (PROTOCOL.md §5). */
  sessions?: Pick<SessionsService, 'check' | 'onChange'>
  runs: RunManager
  registry: ConnectionRegistry
  authTimeoutMs?: number
  /** Seconds before token expiry that `token_expiring` is sent. */
  expiryWarningSeconds?: number
  maxBufferedBytes?: number
  /** How long a resume replay may wait for a client that reads nothing (WS_REPLAY_STALL_MS). */
  replayStallMs?: number
  /** Frames and bytes one connection may have waiting to be handled (WS_MAX_QUEUED_FRAMES / _BYTES). */
  inbound?: Partial<InboundLimits>
  onConnectionsChanged?: () => void
}

/** Per-socket state, authenticated or not yet. */
interface SocketState {
  raw: RawSocket
  connection?: Connection
  authTimer?: ReturnType<typeof setTimeout>
  warnTimer?: ReturnType<typeof setTimeout>
  expiryTimer?: ReturnType<typeof setTimeout>
  /** Frames of one connection are handled one after another, in arrival order. */
  queue: Promise<void>
  /** What waits in `queue`, bounded. */
  inbound: InboundQueue
  /** Closed for holding too much: later frames are dropped. */
  refused?: boolean
  /** The session of the connection's current token, re-checked whenever the user's sessions change. */
  session?: Pick<AccessClaims, 'userId' | 'familyId' | 'issuedAtMs'>
}

const errorFrame = (code: string, message: string, requestId?: string): ErrorFrame => ({
  type: 'error',
  code,
  message,
  ...(requestId !== undefined && { requestId }),
})

/** The WebSocket endpoint of PROTOCOL.md §3. */
export function wsRoutes(opts: WsOptions) {
  const states = new WeakMap<object, SocketState>()
  const authTimeoutMs = opts.authTimeoutMs ?? 5000
  const warnBefore = (opts.expiryWarningSeconds ?? 30) * 1000
  const inboundLimits: InboundLimits = { ...INBOUND_DEFAULTS, ...opts.inbound }

  const byConnection = new WeakMap<Connection, SocketState>()

  /** After a change to a user's sessions (or to anyone's: `undefined`), closes the sockets whose session ended. */
  async function closeEnded(userId: string | undefined) {
    const connections = userId === undefined ? opts.registry.all() : [...opts.registry.connectionsOf(userId)]
    for (const connection of connections) {
      const state = byConnection.get(connection)
      if (!state?.session || !opts.sessions) continue
      const verdict = await opts.sessions.check(state.session)
      if (verdict.ok) continue
      connection.sendFrame(
        errorFrame(
          verdict.code,
          verdict.code === 'account_disabled' ? 'this account is disabled' : 'this session has ended; sign in again',
        ),
      )
      close(state, CLOSE_CODES.unauthorized, verdict.code)
    }
  }
  opts.sessions?.onChange(
    (userId) =>
      void closeEnded(userId).catch((error) => log.error('closing ended sessions failed', { error: String(error) })),
  )

  function clearTimers(state: SocketState) {
    clearTimeout(state.authTimer)
    clearTimeout(state.warnTimer)
    clearTimeout(state.expiryTimer)
  }

  /** `token_expiring` ~30 s before expiry; an unrenewed token closes the socket (runs go on). */
  function scheduleExpiry(state: SocketState, expiresAtSeconds: number) {
    clearTimeout(state.warnTimer)
    clearTimeout(state.expiryTimer)
    const msLeft = expiresAtSeconds * 1000 - Date.now()
    state.warnTimer = setTimeout(
      () => state.connection?.sendFrame({ type: 'token_expiring', expiresAt: expiresAtSeconds }),
      Math.max(0, msLeft - warnBefore),
    )
    state.expiryTimer = setTimeout(
      () => {
        state.connection?.sendFrame(
          errorFrame('token_expired', 'the access token expired; reconnect with a fresh token and resume your runs'),
        )
        close(state, CLOSE_CODES.unauthorized, 'token expired')
      },
      Math.max(0, msLeft),
    )
  }

  function close(state: SocketState, code: number, reason: string) {
    clearTimers(state)
    if (state.connection) state.connection.close(code, reason)
    else {
      try {
        state.raw.close(code, reason)
      } catch {}
    }
  }

  async function authenticate(state: SocketState, token: unknown) {
    if (typeof token !== 'string' || !token) return close(state, CLOSE_CODES.unauthorized, 'missing token')
    let claims
    try {
      claims = await opts.access.verify(token)
    } catch {
      return close(state, CLOSE_CODES.unauthorized, 'invalid or expired token')
    }
    const verdict = opts.sessions ? await opts.sessions.check(claims) : { ok: true as const, role: claims.role }
    if (!verdict.ok) return close(state, CLOSE_CODES.unauthorized, verdict.code)
    clearTimeout(state.authTimer)
    state.session = claims
    const connectionId = `conn_${crypto.randomUUID()}`
    const context = createUserContext({ userId: claims.userId, role: verdict.role, connectionId })
    const connection = new Connection(
      connectionId,
      context,
      state.raw,
      { maxBufferedBytes: opts.maxBufferedBytes ?? 8 * 1024 * 1024, replayStallMs: opts.replayStallMs },
      opts.registry.stats,
      claims.expiresAt,
    )
    state.connection = connection
    opts.registry.add(connection)
    byConnection.set(connection, state)
    opts.onConnectionsChanged?.()
    // A session that ended while it was being checked above was announced before this connection
    // was registered, so that announcement missed it; from here on every end reaches it. Checked
    // once more (from the in-memory view), the gap is closed.
    const again = opts.sessions ? await opts.sessions.check(claims) : verdict
    if (!again.ok) return close(state, CLOSE_CODES.unauthorized, again.code)
    connection.sendFrame({ type: 'ready', userId: claims.userId, connectionId })
    scheduleExpiry(state, claims.expiresAt)
  }

  async function reauthenticate(state: SocketState, connection: Connection, token: unknown) {
    let claims
    try {
      if (typeof token !== 'string' || !token) throw new TokenError('invalid_token', 'missing token')
      claims = await opts.access.verify(token)
    } catch (error) {
      const message = error instanceof TokenError ? error.message : 'the token is not valid'
      connection.sendFrame(errorFrame('invalid_token', `${message}; the connection keeps its current token`))
      return
    }
    if (claims.userId !== connection.userId) return close(state, CLOSE_CODES.wrongUser, 'token of another user')
    const verdict = opts.sessions ? await opts.sessions.check(claims) : { ok: true as const }
    if (!verdict.ok) {
      connection.sendFrame(
        errorFrame(verdict.code, "this token's session has ended; the connection keeps its current token"),
      )
      return
    }
    state.session = claims
    connection.tokenExpiresAt = claims.expiresAt
    scheduleExpiry(state, claims.expiresAt)
    connection.sendFrame({ type: 'auth_ok', expiresAt: claims.expiresAt })
  }

  /** Starts a run; `run_accepted` names the request it answers (the runs service checks the rest). */
  async function startRun(connection: Connection, input: StartRunInput & { requestId: string }) {
    await opts.runs.start(input, ({ runId, threadId }) =>
      connection.sendFrame({ type: 'run_accepted', requestId: input.requestId, runId, threadId }),
    )
  }

  async function handle(state: SocketState, connection: Connection, frame: ClientFrame) {
    switch (frame.type) {
      case 'auth':
        return reauthenticate(state, connection, frame.token)
      case 'ping':
        connection.sendFrame({ type: 'pong' })
        return
      case 'chat':
        return startRun(connection, {
          content: frame.content,
          threadId: frame.threadId,
          agent: frame.agent,
          model: frame.model,
          requestId: frame.requestId,
          parentId: frame.parentId,
        })
      case 'regenerate':
        return startRun(connection, {
          content: '',
          regenerate: frame.messageId,
          agent: frame.agent,
          model: frame.model,
          requestId: frame.requestId,
        })
      case 'cancel':
        await opts.runs.cancel(frame.runId)
        return
      case 'resume':
        await connection.resume(
          frame.runId,
          frame.afterSeq,
          async (after, limit) => (await opts.runs.eventsAfter(frame.runId, after, limit)).entries,
        )
        return
    }
  }

  function onMessage(state: SocketState, message: unknown) {
    const parsed = parseClientFrame(message)
    const connection = state.connection
    if (!connection) {
      // Before authentication only an `auth` frame is acceptable.
      if (!parsed.ok || parsed.frame.type !== 'auth')
        return close(state, CLOSE_CODES.unauthorized, 'the first frame must be auth')
      return authenticate(state, parsed.frame.token)
    }
    if (!parsed.ok) {
      connection.sendFrame(errorFrame(parsed.code, parsed.message, parsed.requestId))
      return
    }
    const frame = parsed.frame
    return connection.context.run(() =>
      handle(state, connection, frame).catch((error) => {
        const requestId = 'requestId' in frame ? frame.requestId : undefined
        // A failed cancel or resume names its run, so a client with several can tell which.
        const about = 'runId' in frame ? { runId: frame.runId } : {}
        if (error instanceof AppError)
          connection.sendFrame({
            ...errorFrame(error.code, error.message, requestId),
            ...about,
            ...(error instanceof QuotaExceededError && { retryAfter: error.retryAfter }),
          })
        else {
          log.error('websocket frame failed', { type: frame.type, error: String(error) })
          connection.sendFrame({
            ...errorFrame('internal_error', 'the server could not handle this frame', requestId),
            ...about,
          })
        }
      }),
    )
  }

  return new Elysia({ name: 'ws' }).ws('/ws', {
    open(ws) {
      const state: SocketState = {
        raw: ws.raw as unknown as RawSocket,
        queue: Promise.resolve(),
        inbound: new InboundQueue(inboundLimits),
      }
      states.set(ws.raw, state)
      state.authTimer = setTimeout(() => close(state, CLOSE_CODES.authTimeout, 'authentication timeout'), authTimeoutMs)
    },
    message(ws, message) {
      const state = states.get(ws.raw)
      if (!state || state.refused) return
      const size = frameBytes(message, inboundLimits.maxBytes)
      if (!state.inbound.admit(size)) {
        // The client keeps sending while its earlier frames wait (a replay it does not read):
        // queueing more would pin memory. It can reconnect and resume.
        state.refused = true
        opts.registry.stats.slowClosed++
        return close(state, CLOSE_CODES.tooSlow, 'too many frames waiting, reconnect and resume')
      }
      state.queue = state.queue
        .then(() => onMessage(state, message))
        .catch((error) => log.error('websocket handler failed', { error: String(error) }))
        .finally(() => state.inbound.release(size))
    },
    drain(ws) {
      states.get(ws.raw)?.connection?.notifyDrain()
    },
    close(ws) {
      const state = states.get(ws.raw)
      if (!state) return
      clearTimers(state)
      states.delete(ws.raw)
      const connection = state.connection
      if (connection) {
        connection.closed = true
        connection.notifyDrain()
        opts.registry.remove(connection)
        opts.onConnectionsChanged?.()
        void connection.context.dispose().catch(() => {})
      }
    },
  })
}
