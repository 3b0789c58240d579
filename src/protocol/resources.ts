/** REST resources that the server answers and the browser reads, in their JSON shapes. */

/** A note (PROTOCOL.md §2): the same notes the note tools read and write. */
export interface NoteView {
  id: string
  title: string
  body: string
  createdAt: string
}

/** A search hit (PROTOCOL.md §6). */
export interface SearchHit {
  threadId: string
  threadTitle: string
  /** null for a hit on the thread's title. */
  messageId: string | null
  role: string | null
  snippet: string
  /** [start, end) ranges into `snippet` of the words that matched. */
  highlights: [number, number][]
  createdAt: string
}

/** What a user sees of a personal API key (PROTOCOL.md §7): never the secret, never its hash. */
export interface ApiKeyView {
  id: string
  name: string
  prefix: string
  createdAt: string
  expiresAt: string | null
  lastUsedAt: string | null
}
