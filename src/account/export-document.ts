import type { AccountRepository } from '../db/repositories/account'
import { threadExport } from '../threads/export'
import { breathe } from '../db/breathe'
import { openField, pagedArray } from './export-stream'

/** Messages and dataset rows are read this many at a time. */
const MESSAGES_PAGE = 500
const ROWS_PAGE = 1000

/** The sections other features own (documents, shares, API keys), each read whole. */
export type ExportSections = Record<string, () => Promise<unknown>>

/**
 * The account export (PROTOCOL.md §5) as pieces of one JSON document, section by section, with
 * the long parts (each thread's messages, each dataset's rows) read a page at a time: memory
 * stays bounded by a page however much the user owns. Field order is the one the document always
 * had: format, version, exportedAt, profile, threads, notes, datasets, the other features'
 * sections, runs, usage. Must be read inside the user's context (jsonDownload does).
 */
export async function* accountExportPieces(
  account: AccountRepository,
  head: { exportedAt: string; profile: unknown },
  sections: ExportSections,
): AsyncGenerator<string> {
  yield openField(
    { format: 'local-chat-server/account-export', version: 1, exportedAt: head.exportedAt, profile: head.profile },
    'threads',
  )
  // Each thread exactly as GET /api/threads/:id/export writes it: POST /api/threads/import
  // takes the whole document back.
  yield '['
  let firstThread = true
  for (const { thread, leafId } of await account.threads()) {
    const { messages: _, ...fields } = threadExport(thread, leafId, [])
    yield (firstThread ? '' : ',') + openField(fields, 'messages')
    firstThread = false
    yield* pagedArray(
      (after?: [number, number]) => account.messagesPage(thread.id, after, MESSAGES_PAGE),
      MESSAGES_PAGE,
    )
    yield '}'
    await breathe()
  }
  yield ']'

  yield `,"notes":${JSON.stringify(await account.notes())}`

  yield ',"datasets":['
  let firstDataset = true
  for (const dataset of await account.datasets()) {
    yield (firstDataset ? '' : ',') + openField(dataset.fields, 'rows')
    firstDataset = false
    yield* pagedArray((after?: number) => account.datasetRowsPage(dataset.id, after ?? -1, ROWS_PAGE), ROWS_PAGE)
    yield '}'
  }
  yield ']'

  for (const [name, section] of Object.entries(sections)) {
    yield `,${JSON.stringify(name)}:${JSON.stringify(await section())}`
    await breathe()
  }
  yield `,"runs":${JSON.stringify(await account.runs())}`
  yield `,"usage":${JSON.stringify(await account.usage())}}`
}
