import { embedded } from '../embedded'
import { runInWorker } from '../workers/run-in-worker'
import { workerTurns } from '../workers/turns'

/** What the server asks of a PDF worker (src/documents/pdf-worker.ts). */
export type PdfWorkerCommand =
  | { type: 'check'; bytes: Uint8Array }
  | { type: 'extract'; bytes: Uint8Array; maxChars: number }

/** What the worker answers. */
export type PdfWorkerReply =
  | { type: 'readable' }
  | { type: 'text'; text: string; pages: number }
  | { type: 'too-much-text'; maxChars: number }
  | { type: 'unreadable'; error: string }

export interface PdfLimits {
  /** Milliseconds one PDF may be read for (opened at upload, or its text extracted) before the worker is ended. */
  timeoutMs: number
  /** Characters of text one PDF may yield; past it, reading stops and the document fails. */
  maxChars: number
  /**
   * Bytes the process may grow by while a PDF is read before its worker is ended (default 1 GiB).
   * Bun's Worker takes no memory limit of its own, and pdf.js inflates a page's whole content
   * stream, which a small file can make gigabytes long, before the time limit would stop it.
   */
  maxMemoryBytes?: number
  /** PDF workers running at once; more wait their turn (the wait does not count against `timeoutMs`). */
  concurrency?: number
  /** The worker's script (tests give another). */
  workerUrl?: string | URL
}

/** Why a PDF could not be read; `message` is what the user sees (the document's `error`, or a 400). */
export class PdfReadError extends Error {
  /** Which limit stopped the read, or `unreadable` (internal: the user sees `message`). */
  readonly reason: PdfReadFailure
  /** pdf.js's own words, for the log (not shown to users). */
  readonly detail?: string

  constructor(failure: { reason: PdfReadFailure; message: string; detail?: string }) {
    super(failure.message)
    this.reason = failure.reason
    this.detail = failure.detail
  }
}

export type PdfReadFailure = 'timeout' | 'too_much_text' | 'too_much_memory' | 'unreadable'

const seconds = (ms: number) => `${+(ms / 1000).toFixed(1)} s`

/** How often the process's memory is looked at while a worker reads. */
const MEMORY_CHECK_MS = 50

/** PDF workers running, and those waiting for a turn (src/workers/turns.ts). */
const turns = workerTurns()

/**
 * Runs one command in a fresh worker thread (src/workers/run-in-worker.ts): a PDF that takes
 * longer than `timeoutMs` is stopped mid-page, which nothing on the server's own thread could do
 * to pdf.js, and one that makes the process grow past `maxMemoryBytes` is stopped too.
 */
function inWorker(command: PdfWorkerCommand, limits: PdfLimits, signal?: AbortSignal): Promise<PdfWorkerReply> {
  // The whole process is measured (threads share it): growth past the limit while this
  // worker reads is taken as this PDF's doing, which is what happens with a bomb.
  const maxMemory = limits.maxMemoryBytes ?? 1024 * 1024 * 1024
  return runInWorker<PdfWorkerReply>({
    // Inside the single-file build the worker is an entry point of its own (scripts/build.ts).
    url: limits.workerUrl ?? embedded.pdfWorker ?? new URL('./pdf-worker.ts', import.meta.url),
    // The bytes are copied into the worker: the caller's stay intact (pdf.js detaches what it is given).
    message: command,
    turns,
    concurrency: limits.concurrency ?? 2,
    timeoutMs: limits.timeoutMs,
    signal,
    // `smol`: a heap that collects sooner; Bun's Worker has no hard memory limit (no `resourceLimits`).
    smol: true,
    timedOut: () =>
      new PdfReadError({
        reason: 'timeout',
        message: `the PDF took too long to read (over ${seconds(limits.timeoutMs)}); it may be damaged or built to be slow to read`,
      }),
    failed: (message) =>
      new PdfReadError({
        reason: 'unreadable',
        message: 'the PDF could not be read',
        detail: message || 'the PDF worker failed',
      }),
    watch: () => {
      const startRss = process.memoryUsage.rss()
      return {
        everyMs: MEMORY_CHECK_MS,
        check: () =>
          process.memoryUsage.rss() - startRss <= maxMemory
            ? undefined
            : new PdfReadError({
                reason: 'too_much_memory',
                message: `the PDF needs more than ${Math.round(maxMemory / 1024 / 1024)} MB of memory to read; it may be damaged or built to expand`,
              }),
      }
    },
  })
}

/** Whether pdf.js can open the PDF (its structure, not yet its pages). */
export async function pdfOpens(bytes: Uint8Array, limits: PdfLimits): Promise<boolean> {
  const reply = await inWorker({ type: 'check', bytes }, limits)
  return reply.type === 'readable'
}

/** The text of a PDF, its pages separated by a blank line. */
export async function pdfText(
  bytes: Uint8Array,
  limits: PdfLimits,
  signal?: AbortSignal,
): Promise<{ text: string; pages: number }> {
  const reply = await inWorker({ type: 'extract', bytes, maxChars: limits.maxChars }, limits, signal)
  if (reply.type === 'text') return { text: reply.text, pages: reply.pages }
  if (reply.type === 'too-much-text')
    throw new PdfReadError({
      reason: 'too_much_text',
      message: `the PDF holds more than ${reply.maxChars.toLocaleString('en')} characters of text, more than one document may hold`,
    })
  throw new PdfReadError({
    reason: 'unreadable',
    message: 'the PDF could not be read',
    detail: reply.type === 'unreadable' ? reply.error : undefined,
  })
}
