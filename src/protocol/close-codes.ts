/**
 * WebSocket close codes (PROTOCOL.md §3), for the server that closes and the browser that
 * decides what to do next.
 */
export const CLOSE_CODES = {
  /** The browser's own goodbye. */
  normal: 1000,
  /** The server is shutting down; reconnect elsewhere or later. */
  goingAway: 1001,
  /** A frame over the size limit. */
  tooBig: 1009,
  /** A reader too slow (or a sender too eager): reconnect and resume; runs stay resumable. */
  tooSlow: 1013,
  /** The browser closed a socket to open a fresh one. */
  reconnecting: 4000,
  /** Missing, bad or expired token, or an ended session: refresh, then reconnect. */
  unauthorized: 4401,
  /** A re-`auth` with another user's token. */
  wrongUser: 4403,
  /** No `auth` frame in time. */
  authTimeout: 4408,
} as const

export type CloseCode = (typeof CLOSE_CODES)[keyof typeof CLOSE_CODES]
