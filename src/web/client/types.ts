/** Wire types of PROTOCOL.md as the browser sees them. */
import type { ApiKeyView, Citation, DocumentStatusView, NoteView, SearchHit } from '../../protocol'

export interface User {
  id: string
  email: string
  name: string
  role: string
}

/** What `localStorage['chat-session']` holds (shared with the OIDC callback page). */
export interface StoredSession {
  user: User
  accessToken: string
  refreshToken: string
  /** Seconds the access token lives, counted from `obtainedAt`. */
  expiresIn: number
  /** Epoch milliseconds when the tokens were issued (seconds are tolerated). */
  obtainedAt: number
}

export interface Thread {
  id: string
  title: string
  createdAt: string
  updatedAt: string
  pinned?: boolean
  archived?: boolean
}

export interface Message {
  id: string
  role: 'user' | 'assistant' | 'system'
  content: string
  agent?: string
  runId?: string
  citations?: Citation[]
  createdAt: string
  /** The message tree of PROTOCOL.md §6 (absent only from old servers). */
  parentId?: string | null
  siblingIds?: string[]
  status?: 'completed' | 'failed' | 'cancelled'
  error?: { code: string; message: string }
}

/** One page of a list (PROTOCOL.md §5). */
export interface Page<T> {
  items: T[]
  nextCursor: string | null
}

export type SearchResult = SearchHit

export interface Share {
  id: string
  threadId: string
  url: string
  createdAt: string
}

export type DocumentInfo = DocumentStatusView

export interface RunInfo {
  id: string
  threadId: string
  status: 'running' | 'completed' | 'failed' | 'cancelled'
  agent: string
  createdAt: string
  finishedAt?: string
}

export interface Agent {
  id: string
  name: string
  description?: string
  tools?: string[]
}

/** A personal API key as listed (PROTOCOL.md §7): never the secret. */
export type ApiKey = ApiKeyView

export type Note = NoteView

export interface Column {
  name: string
  type: string
}

export interface Dataset {
  id: string
  name: string
  columns: Column[]
  rowCount: number
  createdAt?: string
}

/** Run events, server frames and their helpers are the wire contract's (src/protocol). */
export type {
  Citation,
  ControlFrame,
  ErrorFrame,
  RunEvent,
  RunEventType,
  RunStatusFinal as FinalStatus,
  ServerFrame,
} from '../../protocol'
export { RUN_EVENT_TYPES, isRunEvent } from '../../protocol'
