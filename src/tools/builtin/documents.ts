import type { Passage } from '../../documents/search'
import { SEARCH_DEFAULT_LIMIT, SEARCH_MAX_LIMIT } from '../../documents/search'
import { defineSearchTool } from './search-tool'

/** What `search_documents` searches through: the documents feature's retrieval (the user's own rows). */
export type SearchDocuments = (query: string, limit?: number) => Promise<Passage[]>

export function searchDocumentsTool(search: SearchDocuments) {
  return defineSearchTool({
    name: 'search_documents',
    description:
      "Search the user's uploaded documents (text, Markdown, HTML, PDF) by meaning and by words. Returns the best passages with their document name; in an agent run each passage has a number n to cite as [n].",
    query: { description: 'what to look for, in a few words' },
    results: 'passages',
    defaultLimit: SEARCH_DEFAULT_LIMIT,
    maxLimit: SEARCH_MAX_LIMIT,
    search,
  })
}
