import type { MessagesRepository } from '../../db/repositories/messages'
import { defineSearchTool } from './search-tool'

export const HISTORY_SEARCH_DEFAULT = 5
export const HISTORY_SEARCH_MAX = 20

export function searchHistoryTool(messages: Pick<MessagesRepository, 'search'>) {
  return defineSearchTool({
    name: 'search_history',
    description:
      "Search the user's earlier chat messages (all their conversations) by words. Returns matching messages with a snippet and the conversation they are in.",
    query: { description: 'words to look for' },
    results: 'messages',
    defaultLimit: HISTORY_SEARCH_DEFAULT,
    maxLimit: HISTORY_SEARCH_MAX,
    search: (query, limit) => messages.search(query, limit),
  })
}
