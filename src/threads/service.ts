import type { ThreadsRepository } from '../db/repositories/threads'
import type { MessagesRepository } from '../db/repositories/messages'
import { InvalidInputError } from '../http/errors'

export const DEFAULT_THREAD_TITLE = 'New chat'

/** Threads and their messages for the active user. */
export function threadsService(threads: ThreadsRepository, messages: MessagesRepository) {
  return {
    list: () => threads.list(),
    get: (id: string) => threads.get(id),
    create: (title?: string) => threads.create(title?.trim() || DEFAULT_THREAD_TITLE),
    rename(id: string, title: string) {
      // The schema counts characters before trimming; a blank title must not become ''.
      const trimmed = title.trim()
      if (!trimmed) return Promise.reject(new InvalidInputError('title must be 1 to 200 characters'))
      return threads.rename(id, trimmed)
    },
    remove: (id: string) => threads.remove(id),
    async messages(threadId: string) {
      await threads.get(threadId) // 404 for a missing or foreign thread
      return messages.listForThread(threadId)
    },
  }
}

export type ThreadsService = ReturnType<typeof threadsService>
