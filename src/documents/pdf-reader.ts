import { embedded } from '../embedded'
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
 * Runs one command in a fresh worker thread and ends the thread afterwards, whatever happened: a
 * PDF that takes longer than `timeoutMs` is stopped mid-page (`terminate`), which nothing on the
 * server's own thread could do to pdf.js. A fresh thread per PDF also gives its memory back.
 */
async function inWorker(command: PdfWorkerCommand, limits: PdfLimits, signal?: AbortSignal): Promise<PdfWorkerReply> {
  const release = await turns.take(limits.concurrency ?? 2)
  // Stopped while it waited (the document deleted, the server stopping): the turn goes on.
  if (signal?.aborted) {
    release()
    throw signal.reason
  }
  // Inside the single-file build the worker is an entry point of its own (scripts/build.ts).
  const url = limits.workerUrl ?? embedded.pdfWorker ?? new URL('./pdf-worker.ts', import.meta.url)
  let worker: Worker
  try {
    // `smol`: a heap that collects sooner; Bun's Worker has no hard memory limit (no `resourceLimits`).
    worker = new Worker(url, { smol: true })
  } catch (error) {
    release()
    throw error
  }
  return new Promise<PdfWorkerReply>((resolve, reject) => {
    const end = () => {
      clearTimeout(timer)
      clearInterval(memoryWatch)
      signal?.removeEventListener('abort', aborted)
      worker.terminate()
      release()
    }
    const timer = setTimeout(() => {
      end()
      reject(
        new PdfReadError({
          reason: 'timeout',
          message: `the PDF took too long to read (over ${seconds(limits.timeoutMs)}); it may be damaged or built to be slow to read`,
        }),
      )
    }, limits.timeoutMs)
    // The whole process is measured (threads share it): growth past the limit while this
    // worker reads is taken as this PDF's doing, which is what happens with a bomb.
    const maxMemory = limits.maxMemoryBytes ?? 1024 * 1024 * 1024
    const startRss = process.memoryUsage.rss()
    const memoryWatch = setInterval(() => {
      if (process.memoryUsage.rss() - startRss <= maxMemory) return
      end()
      reject(
        new PdfReadError({
          reason: 'too_much_memory',
          message: `the PDF needs more than ${Math.round(maxMemory / 1024 / 1024)} MB of memory to read; it may be damaged or built to expand`,
        }),
      )
    }, MEMORY_CHECK_MS)
    const aborted = () => {
      end()
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', aborted, { once: true })
    worker.onmessage = (event: MessageEvent<PdfWorkerReply>) => {
      end()
      resolve(event.data)
    }
    worker.onerror = (event) => {
      end()
      reject(
        new PdfReadError({
          reason: 'unreadable',
          message: 'the PDF could not be read',
          detail: event.message || 'the PDF worker failed',
        }),
      )
    }
    // The bytes are copied into the worker: the caller's stay intact (pdf.js detaches what it is given).
    worker.postMessage(command)
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
