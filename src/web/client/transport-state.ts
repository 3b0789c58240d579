/**
 * The connection state of the browser's WebSocket transport as ONE value, and every change of it
 * in one pure function (`nextTransportState`), so the lifecycle — connect, ready, drop, back-off,
 * forced token refresh after CLOSE_CODES.unauthorized, stop — is unit-testable without sockets or
 * timers. The transport (transport.ts) feeds it what happened and performs the effects.
 */
import { CLOSE_CODES } from '../../protocol'

export type TransportState =
  /** Never started. */
  | { kind: 'idle' }
  /**
   * Getting a token, opening the socket and waiting for `ready`. `failures`: attempts in a row
   * that never reached `ready`; `refresh`: the last socket was refused for its token, so this
   * attempt refreshes it first.
   */
  | { kind: 'connecting'; failures: number; refresh: boolean }
  /** Authenticated (`ready` received): frames flow. */
  | { kind: 'open' }
  /** Backing off before the next attempt, which starts after `delayMs`. */
  | { kind: 'waiting'; failures: number; refresh: boolean; delayMs: number }
  /** Closed for good (sign-out, or no session): only `start` leaves it. */
  | { kind: 'stopped' }

export type TransportEvent =
  | { type: 'start' }
  /** The server sent `ready`. */
  | { type: 'ready' }
  /** The socket closed (or was dropped as dead) with this code. */
  | { type: 'closed'; code: number }
  /** No socket could be made: no token (while still signed in) or the constructor threw. */
  | { type: 'failed' }
  /** The back-off delay is over. */
  | { type: 'retry' }
  /** Try now, forgetting earlier failures (the browser came back online). */
  | { type: 'reconnect_now' }
  | { type: 'stop' }

export interface BackoffConfig {
  backoffInitialMs: number
  backoffMaxMs: number
  /** 0 ≤ random() < 1 (injected so tests can pin the jitter). */
  random(): number
}

/** Exponential back-off with "equal jitter": half fixed, half random, so clients don't reconnect in lockstep. */
export function backoffDelay(failures: number, config: BackoffConfig): number {
  const cap = Math.min(config.backoffMaxMs, config.backoffInitialMs * 2 ** Math.max(0, failures))
  return cap / 2 + config.random() * (cap / 2)
}

/** The state after `event`; the same object when the event means nothing in this state. */
export function nextTransportState(
  state: TransportState,
  event: TransportEvent,
  config: BackoffConfig,
): TransportState {
  if (event.type === 'stop') return state.kind === 'stopped' ? state : { kind: 'stopped' }
  switch (state.kind) {
    case 'idle':
    case 'stopped':
      return event.type === 'start' ? { kind: 'connecting', failures: 0, refresh: false } : state
    case 'connecting':
      switch (event.type) {
        case 'ready':
          return { kind: 'open' }
        case 'closed':
        case 'failed': {
          // An attempt that never reached `ready` counts as a failure and backs off further.
          const failures = state.failures + 1
          const refresh = event.type === 'closed' && event.code === CLOSE_CODES.unauthorized
          return { kind: 'waiting', failures, refresh, delayMs: backoffDelay(failures, config) }
        }
        default:
          return state
      }
    case 'open':
      if (event.type !== 'closed') return state
      // A socket that worked dropped: the first retry comes soon.
      return {
        kind: 'waiting',
        failures: 0,
        refresh: event.code === CLOSE_CODES.unauthorized,
        delayMs: backoffDelay(0, config),
      }
    case 'waiting':
      if (event.type === 'retry') return { kind: 'connecting', failures: state.failures, refresh: state.refresh }
      if (event.type === 'reconnect_now') return { kind: 'connecting', failures: 0, refresh: state.refresh }
      return state
  }
}

/** Failed attempts in a row behind this state (0 when open or not started). */
export function failuresOf(state: TransportState): number {
  return state.kind === 'connecting' || state.kind === 'waiting' ? state.failures : 0
}
