import type { ThreadsRepository } from '../db/repositories/threads'
import type { MessagesRepository } from '../db/repositories/messages'
import { InvalidInputError, NotFoundError } from '../http/errors'
import { pageRequest } from '../db/paging'

export const DEFAULT_THREAD_TITLE = 'New chat'

/** Threads and their messages for the active user. */
export function threadsService(threads: ThreadsRepository, messages: MessagesRepository) {
  return {
    list: (query: { limit?: string; cursor?: string; archived?: string } = {}) => threads.page(pageRequest(query, 3), { archived: query.archived === 'true' }),
    get: (id: string) => threads.get(id),
    create: (title?: string) => threads.create(title?.trim() || DEFAULT_THREAD_TITLE),
    rename(id: string, title: string) {
      return this.update(id, { title })
    },
    update(id: string, changes: { title?: string; pinned?: boolean; archived?: boolean }) {
      // The schema counts characters before trimming; a blank title must not become ''.
      const title = changes.title?.trim()
      if (changes.title !== undefined && !title) return Promise.reject(new InvalidInputError('title must be 1 to 200 characters'))
      return threads.update(id, { ...changes, ...(title !== undefined && { title }) })
    },
    remove: (id: string) => threads.remove(id),
    /** One page of a branch (default: the thread's current one), root first (PROTOCOL.md §6). */
    async messages(threadId: string, query: { limit?: string; cursor?: string; leaf?: string } = {}) {
      const page = pageRequest(query, 2)
      const leaf = query.leaf ?? (await threads.leafOf(threadId)) // 404 for a missing or foreign thread
      if (!leaf) return { items: [], nextCursor: null }
      if (query.leaf) {
        await threads.get(threadId)
        const message = await messages.get(query.leaf).catch(() => undefined)
        if (!message || message.threadId !== threadId) throw new NotFoundError('message')
      }
      return messages.branchPage(threadId, leaf, page)
    },
  }
}

export type ThreadsService = ReturnType<typeof threadsService>
