import { Type } from '@sinclair/typebox'
import type { Passage } from '../../documents/search'
import { SEARCH_DEFAULT_LIMIT, SEARCH_MAX_LIMIT } from '../../documents/search'
import { defineTool } from './define'

/** What `search_documents` searches through: the documents feature's retrieval (the user's own rows). */
export type SearchDocuments = (query: string, limit?: number) => Promise<Passage[]>

export function searchDocumentsTool(search: SearchDocuments) {
  return defineTool({
    name: 'search_documents',
    description:
      "Search the user's uploaded documents (text, Markdown, HTML, PDF) by meaning and by words. Returns the best passages with their document name; in an agent run each passage has a number n to cite as [n].",
    parameters: Type.Object({
      query: Type.String({ minLength: 1, maxLength: 500, description: 'what to look for, in a few words' }),
      limit: Type.Optional(
        Type.Integer({
          minimum: 1,
          maximum: SEARCH_MAX_LIMIT,
          description: `how many passages at most (default ${SEARCH_DEFAULT_LIMIT})`,
        }),
      ),
    }),
    async execute({ query, limit }) {
      return { passages: await search(query, limit ?? SEARCH_DEFAULT_LIMIT) }
    },
  })
}
