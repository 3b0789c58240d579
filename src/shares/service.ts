import type { MessagesRepository } from '../db/repositories/messages'
import type { SharesRepository, ShareRecord } from '../db/repositories/shares'
import type { ThreadsRepository } from '../db/repositories/threads'
import { pageRequest } from '../db/paging'
import { NotFoundError } from '../http/errors'
import { currentUser } from '../context/user-context'
import type { ShareAudit } from './audit-hook'

export interface ShareView extends ShareRecord {
  url: string
}

/** Read-only snapshot links of a thread's current branch (PROTOCOL.md §6). */
export function sharesService(deps: {
  shares: SharesRepository
  threads: ThreadsRepository
  messages: MessagesRepository
  audit?: ShareAudit
}) {
  const recordShareAudit: ShareAudit = deps.audit ?? (() => {})
  const withUrl =
    (origin: string) =>
    <T extends ShareRecord>(share: T): T & ShareView => ({ ...share, url: `${origin}/s/${share.id}` })

  return {
    /** Copies the current branch as it is now; later messages never reach the share. */
    async create(threadId: string, origin: string): Promise<ShareView> {
      const thread = await deps.threads.get(threadId) // 404 when foreign or unknown
      const leaf = await deps.threads.leafOf(threadId)
      const branch = leaf ? await deps.messages.branch(threadId, leaf) : []
      const messages = branch
        .filter((m) => m.role !== 'system' && m.content.trim() !== '')
        .map((m) => ({ role: m.role, content: m.content, ...(m.agent && { agent: m.agent }), createdAt: m.createdAt }))
      const share = await deps.shares.create({ threadId, title: thread.title, messages })
      await recordShareAudit({ action: 'share_created', actorId: currentUser().userId, targetId: share.threadId })
      return withUrl(origin)(share)
    },

    async list(query: { limit?: string; cursor?: string }, origin: string) {
      const page = await deps.shares.page(pageRequest(query, 2))
      return { items: page.items.map(withUrl(origin)), nextCursor: page.nextCursor }
    },

    /** Every live share of the caller with its snapshot (the account export). */
    async exportAll(origin: string) {
      return (await deps.shares.allWithSnapshots()).map(withUrl(origin))
    },

    async revoke(id: string): Promise<void> {
      const share = await deps.shares.remove(id)
      await recordShareAudit({ action: 'share_revoked', actorId: currentUser().userId, targetId: share.threadId })
    },

    /** No login: the snapshot, or 404 for an unknown or revoked id. */
    async readPublic(id: string) {
      const share = await deps.shares.readPublic(id)
      if (!share) throw new NotFoundError('share')
      return share
    },

    exists: async (id: string) => !!(await deps.shares.readPublic(id)),
  }
}

export type SharesService = ReturnType<typeof sharesService>
