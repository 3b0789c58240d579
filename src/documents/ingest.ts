import { createUserContext, runWithoutUser } from '../context/user-context'
import type { DocumentView, DocumentsRepository } from '../db/repositories/documents'
import { LlmError } from '../llm/errors'
import { log } from '../log'
import { chunkTextInSlices } from './chunk'
import { EMBED_BATCH, type Embedder } from './embedder'
import { extractDocumentText, type DocumentMime } from './extract'
import { type PdfLimits, PdfReadError } from './pdf-reader'

export interface IngestJob {
  userId: string
  documentId: string
  mime: DocumentMime
  /** The upload; dropped once its text is extracted, so a long queue holds text, not files. */
  bytes?: Uint8Array
}

export interface IngestDeps {
  documents: DocumentsRepository
  /** Bound late: the model provider exists only once the runtime is built. */
  embedder: () => Embedder | undefined
  /** Tells the owner's connections how the document moves. */
  notify: (userId: string, document: DocumentView) => void
  /** Documents ingested at once by this process (CPU-bound extraction; the model is shared anyway). */
  concurrency?: number
  /** How long a PDF may be read for and how much text it may yield (default: extract.ts's). */
  pdfLimits?: PdfLimits
}

/** Share of progress given to text extraction; embedding the chunks takes the rest. */
const EXTRACTED = 0.05

/**
 * Background ingestion: extract → chunk → embed in batches → store, in the owner's user
 * context, a few documents at a time. Users take turns (round-robin), so one user's pile of
 * uploads does not hold everyone else's back. Each step updates `progress` and tells the owner.
 */
export class IngestQueue {
  /** Waiting jobs per user, in upload order (users in the order they arrived). */
  readonly #waiting = new Map<string, IngestJob[]>()
  readonly #running = new Map<string, { controller: AbortController; userId: string }>()
  readonly #idle = new Set<() => void>()
  /** When each user was last served (a turn counter), for the round-robin. */
  readonly #lastServed = new Map<string, number>()
  #turn = 0
  #closed = false

  constructor(private readonly deps: IngestDeps) {}

  add(job: IngestJob) {
    if (this.#closed) return
    const jobs = this.#waiting.get(job.userId) ?? []
    jobs.push(job)
    this.#waiting.set(job.userId, jobs)
    this.#pump()
  }

  /** Stops the ingestion of a document (deleted): what it stores next is refused anyway. */
  cancel(documentId: string) {
    this.#running.get(documentId)?.controller.abort()
    for (const [userId, jobs] of this.#waiting) {
      const i = jobs.findIndex((j) => j.documentId === documentId)
      if (i < 0) continue
      jobs.splice(i, 1)
      if (jobs.length === 0) this.#waiting.delete(userId)
    }
  }

  get pending() {
    let waiting = 0
    for (const jobs of this.#waiting.values()) waiting += jobs.length
    return waiting + this.#running.size
  }

  /** Bytes of uploads a user has waiting (what the queue holds in memory for them). */
  queuedBytes(userId: string): number {
    return (this.#waiting.get(userId) ?? []).reduce((n, j) => n + (j.bytes?.byteLength ?? 0), 0)
  }

  /** Resolves when nothing waits or runs (tests, benchmarks). */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idle.add(resolve))
  }

  /** Server stop: running ingestions are aborted (their documents fail and can be uploaded again). */
  close() {
    this.#closed = true
    this.#waiting.clear()
    for (const { controller } of this.#running.values()) controller.abort()
  }

  /**
   * The oldest job of the waiting user served longest ago (a user never served first; ties in
   * the order they arrived).
   */
  #next(): IngestJob | undefined {
    let pick: string | undefined
    for (const userId of this.#waiting.keys()) {
      if (pick === undefined || (this.#lastServed.get(userId) ?? -1) < (this.#lastServed.get(pick) ?? -1)) pick = userId
    }
    if (pick === undefined) return undefined
    const jobs = this.#waiting.get(pick)!
    const job = jobs.shift()!
    if (jobs.length === 0) this.#waiting.delete(pick)
    this.#lastServed.set(pick, ++this.#turn)
    return job
  }

  /** Nothing per user outlives their last job. */
  #forget(userId: string) {
    if (this.#waiting.has(userId)) return
    for (const running of this.#running.values()) if (running.userId === userId) return
    this.#lastServed.delete(userId)
  }

  #pump() {
    const max = this.deps.concurrency ?? 2
    let job: IngestJob | undefined
    while (this.#running.size < max && (job = this.#next())) {
      const running = job
      const controller = new AbortController()
      this.#running.set(running.documentId, { controller, userId: running.userId })
      void runWithoutUser(() => this.#ingest(running, controller.signal)).finally(() => {
        this.#running.delete(running.documentId)
        this.#forget(running.userId)
        this.#pump()
        if (this.pending === 0) {
          for (const resolve of this.#idle) resolve()
          this.#idle.clear()
        }
      })
    }
  }

  async #ingest(job: IngestJob, signal: AbortSignal): Promise<void> {
    const context = createUserContext({
      userId: job.userId,
      role: 'member',
      metadata: { documentId: job.documentId },
      signal,
    })
    const { documents, notify } = this.deps
    const update = async (change: Parameters<DocumentsRepository['update']>[1]) => {
      const document = await documents.update(job.documentId, change)
      if (document) notify(job.userId, document)
      return document
    }
    try {
      await context.run(async () => {
        try {
          const { text, pages } = await extractDocumentText(
            job.mime,
            job.bytes ?? new Uint8Array(),
            this.deps.pdfLimits,
            signal,
          )
          job.bytes = undefined
          const pieces = await chunkTextInSlices(text)
          if (pieces.length === 0) {
            await update({
              status: 'failed',
              progress: 1,
              error: 'no text could be found in this document (a scanned PDF needs text recognition first)',
              text,
              pages,
            })
            return
          }
          if (!(await update({ progress: EXTRACTED, text, pages }))) return
          const embedder = this.deps.embedder()
          if (!embedder) throw new LlmError('llm_unavailable', 'embeddings are not available yet')
          for (let start = 0; start < pieces.length; start += EMBED_BATCH) {
            signal.throwIfAborted()
            const batch = pieces.slice(start, start + EMBED_BATCH)
            const vectors = await embedder(batch, { signal, userId: job.userId })
            const stored = await documents.addChunks(
              job.documentId,
              batch.map((text, i) => ({ idx: start + i, text, embedding: vectors[i] })),
            )
            if (!stored) return // deleted meanwhile
            const done = start + batch.length
            const last = done >= pieces.length
            if (
              !(await update(
                last
                  ? { status: 'ready', progress: 1, chunks: done }
                  : { progress: EXTRACTED + (1 - EXTRACTED) * (done / pieces.length), chunks: done },
              ))
            )
              return
          }
        } catch (error) {
          if (signal.aborted) {
            await documents.clearChunks(job.documentId).catch(() => {})
            await update({
              status: 'failed',
              chunks: 0,
              error: 'ingestion was stopped (the server stopped); upload the document again',
            }).catch(() => {})
            return
          }
          // A PDF past its time or text limit says so; what pdf.js choked on goes to the log only.
          const told = error instanceof PdfReadError && error.reason !== 'unreadable'
          const message =
            error instanceof LlmError
              ? `embedding failed: ${error.message}`
              : told
                ? error.message
                : 'the document could not be read'
          if (!(error instanceof LlmError))
            log.warn('document ingestion failed', {
              documentId: job.documentId,
              error: String((error instanceof PdfReadError && error.detail) || (error as Error)?.message || error),
            })
          await documents.clearChunks(job.documentId).catch(() => {})
          await update({ status: 'failed', error: message, chunks: 0 }).catch(() => {})
        }
      })
    } finally {
      await context.dispose().catch(() => {})
    }
  }
}
