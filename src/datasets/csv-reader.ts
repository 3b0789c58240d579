import { embedded } from '../embedded'
import { InvalidInputError } from '../http/errors'
import { type CsvLimits, DatasetTooLargeError, DEFAULT_CSV_LIMITS, type ParsedCsv } from './csv'
import { runInWorker } from '../workers/run-in-worker'
import { workerTurns } from '../workers/turns'

/** What the server asks of a CSV worker (src/datasets/csv-worker.ts). */
export interface CsvWorkerCommand {
  text: string
  limits: CsvLimits
}

/** What the worker answers: the parsed CSV, a refusal as parseCsv words it, or its own failure. */
export type CsvWorkerReply =
  | ({ type: 'parsed' } & ParsedCsv)
  | { type: 'refused'; status: 400 | 413; message: string }
  | { type: 'failed'; error: string }

export interface CsvReaderOptions {
  /** Milliseconds one CSV may be parsed for before its worker is ended (a 5 MB CSV takes about 1 s). */
  timeoutMs?: number
  /** CSV workers running at once; more wait their turn (the wait does not count against `timeoutMs`). */
  concurrency?: number
  /** The worker's script (tests give another). */
  workerUrl?: string | URL
}

/** CSV workers running, and those waiting for a turn (src/workers/turns.ts). */
const turns = workerTurns()

/**
 * parseCsv (src/datasets/csv.ts) on a fresh worker thread, ended afterwards whatever happened:
 * the server's thread only copies the text there and the rows back. Refusals come back as the
 * same errors parseCsv throws (400 with its message, 413 dataset_too_large).
 */
export async function parseCsvInWorker(
  text: string,
  limits: CsvLimits = DEFAULT_CSV_LIMITS,
  options: CsvReaderOptions = {},
): Promise<ParsedCsv> {
  // Not text at all: parseCsv's own answer, without a thread for it (a string is all a worker is sent).
  if (typeof text !== 'string')
    throw new InvalidInputError('the CSV is empty; it needs a header row and at least one data row')
  const timeoutMs = options.timeoutMs ?? 60_000
  const reply = await runInWorker<CsvWorkerReply>({
    // Inside the single-file build the worker is an entry point of its own (scripts/build.ts).
    url: options.workerUrl ?? embedded.csvWorker ?? new URL('./csv-worker.ts', import.meta.url),
    message: { text, limits } satisfies CsvWorkerCommand,
    turns,
    concurrency: options.concurrency ?? 2,
    timeoutMs,
    timedOut: () => new InvalidInputError(`the CSV took too long to read (over ${timeoutMs / 1000} s)`),
    failed: (message) => new Error(`the CSV worker failed: ${message || 'no message'}`),
  })
  if (reply.type === 'parsed') return { columns: reply.columns, rows: reply.rows }
  if (reply.type === 'refused')
    throw reply.status === 413 ? new DatasetTooLargeError(reply.message) : new InvalidInputError(reply.message)
  throw new Error(`the CSV worker failed: ${reply.error}`)
}
