/** Wire types of PROTOCOL.md as the browser sees them. */

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

/** A checked citation of an answer: the passage numbered `n` in the run (PROTOCOL.md §8). */
export interface Citation {
  n: number
  documentId: string
  documentName: string
  chunkId: string
  quote: string
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

export interface SearchResult {
  threadId: string
  threadTitle: string
  messageId: string | null
  role: string | null
  snippet: string
  highlights: [number, number][]
  createdAt: string
}

export interface Share {
  id: string
  threadId: string
  url: string
  createdAt: string
}

export interface DocumentInfo {
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
export interface ApiKey {
  id: string
  name: string
  prefix: string
  createdAt: string
  expiresAt: string | null
  lastUsedAt: string | null
}

export interface Note {
  id: string
  title: string
  body: string
  createdAt: string
}

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

export type FinalStatus = 'completed' | 'failed' | 'cancelled'

interface EventBase {
  runId: string
  threadId: string
  seq: number
  ts: string
  agent: string
}

export type RunEvent = EventBase &
  (
    | { type: 'agent_started'; input: string }
    | { type: 'agent_thinking'; text?: string; status?: string }
    | { type: 'message_delta'; delta: string }
    | { type: 'tool_executing'; toolCallId: string; tool: string; args: unknown }
    | { type: 'tool_completed'; toolCallId: string; tool: string; ok: boolean; result?: unknown; error?: { code?: string; message?: string } | string; durationMs: number }
    | { type: 'agent_handoff'; from: string; to: string }
    | { type: 'agent_completed'; status: FinalStatus; message?: { id: string; content: string; citations?: Citation[] }; error?: { code: string; message: string }; usage?: unknown }
  )

export type RunEventType = RunEvent['type']

export const RUN_EVENT_TYPES: ReadonlySet<string> = new Set([
  'agent_started',
  'agent_thinking',
  'message_delta',
  'tool_executing',
  'tool_completed',
  'agent_handoff',
  'agent_completed',
])

export function isRunEvent(frame: { type?: unknown; runId?: unknown; seq?: unknown }): frame is RunEvent {
  return typeof frame.type === 'string' && RUN_EVENT_TYPES.has(frame.type) && typeof frame.runId === 'string' && typeof frame.seq === 'number'
}

/** Frames the server sends outside runs. */
export type ControlFrame =
  | { type: 'ready'; userId: string; connectionId: string }
  | { type: 'auth_ok'; expiresAt: number | string }
  | { type: 'token_expiring'; expiresAt: number | string }
  | { type: 'pong' }
  | { type: 'run_accepted'; requestId: string; runId: string; threadId: string }
  | { type: 'error'; code: string; message: string; requestId?: string; runId?: string }
  | { type: 'document_status'; document: DocumentInfo }
