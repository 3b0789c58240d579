/** Client → server frames of PROTOCOL.md §3 (the server checks them in src/ws/frames.ts). */

export type ClientFrame =
  | { type: 'auth'; token: string }
  | {
      type: 'chat'
      requestId: string
      content: string
      threadId?: string
      agent?: string
      model?: string
      parentId?: string | null
    }
  | { type: 'regenerate'; requestId: string; messageId: string; agent?: string; model?: string }
  | { type: 'cancel'; runId: string }
  | { type: 'resume'; runId: string; afterSeq: number }
  | { type: 'ping' }

export type ClientFrameType = ClientFrame['type']

/** Longest chat message accepted, in characters. */
export const MAX_CHAT_CONTENT = 32_000

/** Largest frame the server reads, in bytes; a bigger one closes the socket with 1009. */
export const MAX_FRAME_BYTES = 1024 * 1024
