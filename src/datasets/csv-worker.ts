/**
 * The worker thread of src/datasets/csv-reader.ts: parses a CSV and infers its column types
 * (src/datasets/csv.ts). A 5 MB CSV of 100k rows takes about a second of steady work, which here
 * costs this thread instead of the server's, so other requests keep being answered meanwhile.
 * The limits are checked here too: a refused CSV costs the server's thread nothing either.
 * This file runs only inside that worker; it is an entry point of its own in the single-file
 * build (scripts/build.ts).
 */
import { AppError } from '../http/errors'
import { parseCsv } from './csv'
import type { CsvWorkerCommand, CsvWorkerReply } from './csv-reader'

declare const self: Worker

const send = (reply: CsvWorkerReply) => postMessage(reply)

self.onmessage = (event: MessageEvent<CsvWorkerCommand>) => {
  const { text, limits } = event.data
  try {
    send({ type: 'parsed', ...parseCsv(text, limits) })
  } catch (error) {
    // A refusal keeps its status and words; anything else is the worker's own failure (500).
    if (error instanceof AppError && (error.status === 400 || error.status === 413))
      send({ type: 'refused', status: error.status, message: error.message })
    else send({ type: 'failed', error: String((error as Error)?.message ?? error) })
  }
}
