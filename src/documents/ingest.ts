import { createUserContext, runWithoutUser } from '../context/user-context'
import type { DocumentView, DocumentsRepository } from '../db/repositories/documents'
import { LlmError } from '../llm/provider'
import { log } from '../log'
import { chunkTextInSlices } from './chunk'
import { EMBED_BATCH, type Embedder } from './embedder'
import { extractDocumentText, type DocumentMime } from './extract'

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
}

/** Share of progress given to text extraction; embedding the chunks takes the rest. */
const EXTRACTED = 0.05

/**
 * Background ingestion: extract → chunk → embed in batches → store, in the owner's user
 * context, a few documents at a time. Each step updates `progress` and tells the owner.
 */
export class IngestQueue {
  readonly #waiting: IngestJob[] = []
  readonly #running = new Map<string, AbortController>()
  readonly #idle = new Set<() => void>()
  #closed = false

  constructor(private readonly deps: IngestDeps) {}

  add(job: IngestJob) {
    if (this.#closed) return
    this.#waiting.push(job)
    this.#pump()
  }

  /** Stops the ingestion of a document (deleted): what it stores next is refused anyway. */
  cancel(documentId: string) {
    this.#running.get(documentId)?.abort()
    const i = this.#waiting.findIndex((j) => j.documentId === documentId)
    if (i >= 0) this.#waiting.splice(i, 1)
  }

  get pending() {
    return this.#waiting.length + this.#running.size
  }

  /** Resolves when nothing waits or runs (tests, benchmarks). */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idle.add(resolve))
  }

  /** Server stop: running ingestions are aborted (their documents fail and can be uploaded again). */
  close() {
    this.#closed = true
    this.#waiting.length = 0
    for (const controller of this.#running.values()) controller.abort()
  }

  #pump() {
    const max = this.deps.concurrency ?? 1
    while (this.#running.size < max && this.#waiting.length > 0) {
      const job = this.#waiting.shift()!
      const controller = new AbortController()
      this.#running.set(job.documentId, controller)
      void runWithoutUser(() => this.#ingest(job, controller.signal)).finally(() => {
        this.#running.delete(job.documentId)
        this.#pump()
        if (this.pending === 0) for (const resolve of this.#idle) resolve()
        if (this.pending === 0) this.#idle.clear()
      })
    }
  }

  async #ingest(job: IngestJob, signal: AbortSignal): Promise<void> {
    const context = createUserContext({ userId: job.userId, role: 'user', metadata: { documentId: job.documentId }, signal })
    const { documents, notify } = this.deps
    const update = async (change: Parameters<DocumentsRepository['update']>[1]) => {
      const document = await documents.update(job.documentId, change)
      if (document) notify(job.userId, document)
      return document
    }
    try {
      await context.run(async () => {
        try {
          const { text, pages } = await extractDocumentText(job.mime, job.bytes ?? new Uint8Array())
          job.bytes = undefined
          const pieces = await chunkTextInSlices(text)
          if (pieces.length === 0) {
            await update({ status: 'failed', progress: 1, error: 'no text could be found in this document (a scanned PDF needs text recognition first)', text, pages })
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
            if (!(await update(last ? { status: 'ready', progress: 1, chunks: done } : { progress: EXTRACTED + (1 - EXTRACTED) * (done / pieces.length), chunks: done }))) return
          }
        } catch (error) {
          if (signal.aborted) {
            await documents.clearChunks(job.documentId).catch(() => {})
            await update({ status: 'failed', chunks: 0, error: 'ingestion was stopped (the server stopped); upload the document again' }).catch(() => {})
            return
          }
          const message = error instanceof LlmError ? `embedding failed: ${error.message}` : 'the document could not be read'
          if (!(error instanceof LlmError)) log.warn('document ingestion failed', { documentId: job.documentId, error: String((error as Error)?.message ?? error) })
          await documents.clearChunks(job.documentId).catch(() => {})
          await update({ status: 'failed', error: message, chunks: 0 }).catch(() => {})
        }
      })
    } finally {
      await context.dispose().catch(() => {})
    }
  }
}
