import type { RunEvent } from './run-events'

/** A document as its owner sees it (PROTOCOL.md §8), sent in `document_status` as it moves. */
export interface DocumentStatusView {
  id: string
  name: string
  mime: string
  bytes: number
  status: 'processing' | 'ready' | 'failed'
  progress: number
  chunks: number
  error?: string
  createdAt: string
  updatedAt?: string
}

/** `error`: a refused frame or a failure outside any run's events. */
export interface ErrorFrame {
  type: 'error'
  /** One of ERROR_CODES (src/protocol/error-codes.ts; a unit test holds the server to it). */
  code: string
  message: string
  /** Echoed whenever the refused frame had one. */
  requestId?: string
  /** A failed `cancel` or `resume` names its run. */
  runId?: string
  /** `quota_exceeded`: seconds until one more run fits. */
  retryAfter?: number
}

/** Frames the server sends outside runs (PROTOCOL.md §3, §8). */
export type ControlFrame =
  | { type: 'ready'; userId: string; connectionId: string }
  | { type: 'auth_ok'; expiresAt: number }
  | { type: 'token_expiring'; expiresAt: number }
  | { type: 'pong' }
  | { type: 'run_accepted'; requestId: string; runId: string; threadId: string }
  | ErrorFrame
  | { type: 'document_status'; document: DocumentStatusView }

/** Everything the server may send on the socket. */
export type ServerFrame = ControlFrame | RunEvent

export type ServerFrameType = ServerFrame['type']
