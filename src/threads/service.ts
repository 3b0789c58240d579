import type { ThreadsRepository } from '../db/repositories/threads'
import type { MessagesRepository } from '../db/repositories/messages'
import { InvalidInputError, NotFoundError } from '../http/errors'
import { pageRequest } from '../db/paging'
import { exportFileName, threadExport, threadMarkdown } from './export'
import { InvalidImportError, readImport } from './import'

export const DEFAULT_THREAD_TITLE = 'New chat'

/** Threads and their messages for the active user. */
export function threadsService(threads: ThreadsRepository, messages: MessagesRepository) {
  /** Stops the active user's runs of a thread still going; the run manager's, once attached. */
  let stopRuns = async (_threadId: string) => {}
  return {
    /** The runs are attached once the runtime exists (app.ts): they sit above this layer. */
    attach(runtime: { stopRuns: (threadId: string) => Promise<void> }) {
      stopRuns = runtime.stopRuns
    },
    list: (query: { limit?: string; cursor?: string; archived?: string } = {}) =>
      threads.page(pageRequest(query, 3), { archived: query.archived === 'true' }),
    get: (id: string) => threads.get(id),
    create: (title?: string) => threads.create(title?.trim() || DEFAULT_THREAD_TITLE),
    rename(id: string, title: string) {
      return this.update(id, { title })
    },
    update(id: string, changes: { title?: string; pinned?: boolean; archived?: boolean }) {
      // The schema counts characters before trimming; a blank title must not become ''.
      const title = changes.title?.trim()
      if (changes.title !== undefined && !title)
        return Promise.reject(new InvalidInputError('title must be 1 to 200 characters'))
      return threads.update(id, { ...changes, ...(title !== undefined && { title }) })
    },
    /**
     * Its runs still going are stopped first (each ends `cancelled`), so none writes into a thread
     * that is gone; then the thread goes, with its messages, runs and events.
     */
    async remove(id: string) {
      await stopRuns(id) // the active user's runs only: another user's thread id stops nothing
      await threads.remove(id)
    },
    /** One page of a branch (default: the thread's current one), root first (PROTOCOL.md §6). */
    async messages(threadId: string, query: { limit?: string; cursor?: string; leaf?: string; follow?: string } = {}) {
      const page = pageRequest(query, 2)
      let leaf = query.leaf ?? (await threads.leafOf(threadId)) // 404 for a missing or foreign thread
      // A later page stays on the branch its first page was read from, whatever was added since.
      if (page.after) {
        await threads.get(threadId)
        return messages.branchPage(threadId, String(page.after[0]), page)
      }
      if (!leaf) return { items: [], nextCursor: null }
      if (query.leaf) {
        await threads.get(threadId)
        const message = await messages.get(query.leaf).catch(() => undefined)
        if (!message || message.threadId !== threadId) throw new NotFoundError('message')
        if (query.follow === 'latest') leaf = await messages.latestBelow(threadId, query.leaf)
      }
      return messages.branchPage(threadId, leaf, page)
    },

    /** The whole thread as a download: every branch in JSON, the current branch in Markdown. */
    async export(
      threadId: string,
      format: 'json' | 'markdown' = 'json',
    ): Promise<{ fileName: string; type: string; body: string }> {
      const thread = await threads.get(threadId)
      const leaf = await threads.leafOf(threadId)
      if (format === 'markdown') {
        const branch = leaf ? await messages.branch(threadId, leaf) : []
        return {
          fileName: exportFileName(thread.title, 'md'),
          type: 'text/markdown; charset=utf-8',
          body: threadMarkdown(thread, branch),
        }
      }
      const all = await messages.listForThread(threadId)
      return {
        fileName: exportFileName(thread.title, 'json'),
        type: 'application/json; charset=utf-8',
        body: JSON.stringify(threadExport(thread, leaf, all), null, 2),
      }
    },

    /** Imports JSON text (ours or ChatGPT's): all threads land in one transaction, or none. */
    async import(text: string): Promise<{ id: string; title: string }[]> {
      let body: unknown
      try {
        body = JSON.parse(text)
      } catch {
        throw new InvalidImportError('the file is not valid JSON')
      }
      return threads.importMany(readImport(body))
    },
  }
}

export type ThreadsService = ReturnType<typeof threadsService>
