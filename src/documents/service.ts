import { currentUser } from '../context/user-context'
import type { DocumentView, DocumentsRepository } from '../db/repositories/documents'
import { AppError, InvalidInputError } from '../http/errors'
import { citationChecker } from './citations'
import type { Embedder } from './embedder'
import { checkDocument, mimeFromName, UnsupportedDocumentError } from './extract'
import { IngestQueue } from './ingest'
import type { PdfLimits } from './pdf-reader'
import { documentSearch } from './search'

export const DOCUMENT_NAME_MAX = 200

export class DocumentTooLargeError extends AppError {
  constructor(maxBytes: number) {
    super(
      413,
      'payload_too_large',
      `the document is larger than ${formatBytes(maxBytes)}; DOCUMENT_MAX_BYTES sets the limit`,
    )
  }
}

/** The user's uploads waiting for ingestion already fill their share of the queue. */
export class TooManyDocumentsError extends AppError {
  constructor() {
    super(
      429,
      'too_many_documents',
      'your earlier uploads are still waiting to be processed; try again when they are ready',
      { 'Retry-After': '10' },
    )
  }
}

export function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${+(bytes / 1024 / 1024).toFixed(1)} MB` : `${+(bytes / 1024).toFixed(1)} KB`
}

export interface DocumentsServiceOptions {
  maxBytes: number
  /** Told of every status change of a document (the owner's WebSockets). */
  notify?: (userId: string, document: DocumentView) => void
  /** Documents ingested at once by this process (default 2). */
  ingestConcurrency?: number
  /** Upload bytes one user may have waiting for ingestion (default 5 × maxBytes). */
  maxQueuedBytesPerUser?: number
  /** How long a PDF may be read for, and how much text it may yield (default: extract.ts's). */
  pdfLimits?: PdfLimits
}

/**
 * The user's documents: upload (checked, then ingested in the background), list, read,
 * delete, and retrieval with checked citations. The embedder and the notifier are attached
 * once the runtime (model provider, connections) exists.
 */
export function documentsService(documents: DocumentsRepository, options: DocumentsServiceOptions) {
  let embedder: Embedder | undefined
  let notify = options.notify ?? (() => {})
  const ingest = new IngestQueue({
    documents,
    embedder: () => embedder,
    notify: (userId, document) => notify(userId, document),
    concurrency: options.ingestConcurrency,
    pdfLimits: options.pdfLimits,
  })

  const cleanName = (name: string) =>
    name
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
      .replace(/[\u0000-\u001f\u007f]/g, '')
      .replace(/^.*[\\/]/, '')
      .trim()

  /** Uploads one user may have waiting for ingestion, in bytes: the queue holds them in memory. */
  const maxQueuedBytes = options.maxQueuedBytesPerUser ?? 5 * options.maxBytes

  async function store(
    name: string,
    mime: Awaited<ReturnType<typeof checkDocument>>,
    bytes: Uint8Array,
  ): Promise<DocumentView> {
    const userId = currentUser().userId
    if (ingest.queuedBytes(userId) + bytes.byteLength > maxQueuedBytes) throw new TooManyDocumentsError()
    const document = await documents.create({ name, mime, bytes: bytes.byteLength })
    ingest.add({ userId, documentId: document.id, mime, bytes })
    return document
  }

  return {
    ingest,
    /** Runtime wiring: where embeddings come from and where status frames go. */
    attach(runtime: { embedder: Embedder; notify: (userId: string, document: DocumentView) => void }) {
      embedder = runtime.embedder
      notify = runtime.notify
    },

    /** A file upload: size, then type and content checked before anything is stored. */
    async uploadFile(file: { name: string; bytes: Uint8Array }): Promise<DocumentView> {
      const name = cleanName(file.name)
      if (!name) throw new InvalidInputError('the file needs a name (with its extension: .txt, .md, .html or .pdf)')
      if (name.length > DOCUMENT_NAME_MAX)
        throw new InvalidInputError(`a document name is at most ${DOCUMENT_NAME_MAX} characters`)
      if (file.bytes.byteLength > options.maxBytes) throw new DocumentTooLargeError(options.maxBytes)
      const mime = await checkDocument(name, file.bytes, options.pdfLimits)
      return store(name, mime, file.bytes)
    },

    /** Raw text `{name, text}`: plain text unless the name says Markdown or HTML. */
    async uploadText(input: { name: string; text: string }): Promise<DocumentView> {
      const name = cleanName(input.name)
      if (!name) throw new InvalidInputError('name must not be empty')
      if (name.length > DOCUMENT_NAME_MAX)
        throw new InvalidInputError(`a document name is at most ${DOCUMENT_NAME_MAX} characters`)
      const bytes = new TextEncoder().encode(input.text)
      if (bytes.byteLength > options.maxBytes) throw new DocumentTooLargeError(options.maxBytes)
      const named = mimeFromName(name)
      if (named === 'application/pdf')
        throw new UnsupportedDocumentError('a PDF must be uploaded as a file (multipart/form-data), not as text')
      const mime = named ? await checkDocument(name, bytes, options.pdfLimits) : 'text/plain'
      if (!named && bytes.includes(0)) throw new UnsupportedDocumentError('the text holds binary content')
      if (input.text.trim() === '') throw new UnsupportedDocumentError('the document is empty')
      return store(name, mime, bytes)
    },

    list: (opts: { limit: number; cursor?: string }) => documents.list(opts),
    get: (id: string) => documents.get(id),

    async remove(id: string): Promise<void> {
      await documents.remove(id)
      ingest.cancel(id)
    },

    search: documentSearch(documents, () => embedder),
    checkCitations: citationChecker(documents),

    /** Server start (one process): documents a stopped process was ingesting are failed. */
    failInterrupted: () =>
      documents.failInterrupted('the server stopped while this document was being processed; upload it again'),
    close: () => ingest.close(),
  }
}

export type DocumentsService = ReturnType<typeof documentsService>
