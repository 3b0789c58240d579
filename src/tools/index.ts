import type { MessagesRepository } from '../db/repositories/messages'
import type { DatasetsService } from '../datasets/service'
import type { NotesService } from '../notes/service'
import type { ToolDefinition } from './types'
import { calculateTool } from './builtin/calculate'
import { currentTimeTool } from './builtin/time'
import { saveNoteTool, searchNotesTool } from './builtin/notes'
import { searchHistoryTool } from './builtin/history'
import { listDatasetsTool, queryDatasetTool } from './builtin/datasets'
import { searchDocumentsTool, type SearchDocuments } from './builtin/documents'

export { createToolDispatcher, ToolError } from './dispatcher'
export { searchDocumentsTool } from './builtin/documents'
export type { ToolDefinition, ToolDispatcher, ToolOutcome, OllamaToolSpec, ToolCallContext } from './types'

/** What the built-in tools act through; each acts for the active (run's) user. */
export interface ToolServices {
  notes: NotesService
  datasets: DatasetsService
  messages: Pick<MessagesRepository, 'search'>
  /** Retrieval over the user's documents; without it `search_documents` is not offered. */
  documents?: { search: SearchDocuments }
  /** The clock of `current_time` (tests pin it). */
  now?: () => Date
}

export const BUILTIN_TOOL_NAMES = [
  'calculate',
  'current_time',
  'save_note',
  'search_notes',
  'search_history',
  'list_datasets',
  'query_dataset',
  'search_documents',
] as const
export type BuiltinToolName = (typeof BUILTIN_TOOL_NAMES)[number]

/** The tools of PROTOCOL.md §4 (the transfer tools are not here: the run loop handles them). */
export function builtinTools(services: ToolServices): ToolDefinition[] {
  return [
    calculateTool,
    currentTimeTool(services.now),
    saveNoteTool(services.notes),
    searchNotesTool(services.notes),
    searchHistoryTool(services.messages),
    listDatasetsTool(services.datasets),
    queryDatasetTool(services.datasets),
    ...(services.documents ? [searchDocumentsTool(services.documents.search)] : []),
  ]
}
