import { Type } from '@sinclair/typebox'
import type { MessagesRepository } from '../../db/repositories/messages'
import { defineTool } from './define'

export const HISTORY_SEARCH_DEFAULT = 5
export const HISTORY_SEARCH_MAX = 20

export function searchHistoryTool(messages: Pick<MessagesRepository, 'search'>) {
  return defineTool({
    name: 'search_history',
    description:
      "Search the user's earlier chat messages (all their conversations) by words. Returns matching messages with a snippet and the conversation they are in.",
    parameters: Type.Object({
      query: Type.String({ minLength: 1, maxLength: 500, description: 'words to look for' }),
      limit: Type.Optional(
        Type.Integer({
          minimum: 1,
          maximum: HISTORY_SEARCH_MAX,
          description: `how many messages at most (default ${HISTORY_SEARCH_DEFAULT})`,
        }),
      ),
    }),
    async execute({ query, limit }) {
      return { messages: await messages.search(query, limit ?? HISTORY_SEARCH_DEFAULT) }
    },
  })
}
