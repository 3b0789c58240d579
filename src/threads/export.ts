import type { MessageView } from '../db/repositories/messages'
import type { ThreadView } from '../db/repositories/threads'

/** Marks our own thread export, so an import can tell it from anything else. */
export const THREAD_EXPORT_FORMAT = 'local-chat-thread'

/**
 * One thread with every message of every branch (PROTOCOL.md §6). The account export
 * (`GET /api/me/export`) uses the same shape for each of its threads, so either imports back.
 */
export interface ThreadExport {
  format: typeof THREAD_EXPORT_FORMAT
  version: 1
  exportedAt: string
  thread: ThreadView & { currentLeafId: string | null }
  messages: MessageView[]
}

export function threadExport(thread: ThreadView, leafId: string | null, messages: MessageView[]): ThreadExport {
  return {
    format: THREAD_EXPORT_FORMAT,
    version: 1,
    exportedAt: new Date().toISOString(),
    thread: { ...thread, currentLeafId: leafId },
    messages,
  }
}

const speaker = (m: MessageView) => (m.role === 'user' ? 'You' : m.role === 'assistant' ? 'Assistant' : 'System')

const outcomeNote = (m: MessageView) =>
  m.status === 'cancelled'
    ? '\n\n_(stopped before it finished)_'
    : m.status === 'failed'
      ? `\n\n_(failed: ${m.error?.message ?? 'unknown error'})_`
      : ''

/** The thread's current branch as Markdown: a heading, then each message under its speaker. */
export function threadMarkdown(thread: ThreadView, branch: MessageView[]): string {
  const parts = [
    `# ${thread.title}`,
    '',
    `_Exported ${new Date().toISOString().slice(0, 10)} · started ${thread.createdAt.slice(0, 10)}_`,
    '',
  ]
  for (const m of branch) {
    parts.push(
      `## ${speaker(m)} · ${m.createdAt.replace('T', ' ').slice(0, 16)} UTC`,
      '',
      `${m.content}${outcomeNote(m)}`.trim() || '_(no text)_',
      '',
    )
  }
  return parts.join('\n')
}

/** A file name from a title: letters, digits and dashes only. */
export function exportFileName(title: string, ext: string): string {
  const base =
    title
      .normalize('NFKD')
      .replace(/[^\p{L}\p{N}]+/gu, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60)
      .toLowerCase() || 'chat'
  return `${base.replace(/[^\x20-\x7e]/g, '') || 'chat'}.${ext}`
}
