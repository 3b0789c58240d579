import { Parser } from 'htmlparser2'
import { AppError } from '../http/errors'
import { type PdfLimits, PdfReadError, pdfOpens, pdfText } from './pdf-reader'

/** The document types we read (PROTOCOL.md §8), by the MIME type we store. */
export const DOCUMENT_TYPES = {
  'text/plain': ['.txt', '.text'],
  'text/markdown': ['.md', '.markdown'],
  'text/html': ['.html', '.htm'],
  'application/pdf': ['.pdf'],
} as const
export type DocumentMime = keyof typeof DOCUMENT_TYPES

/** Another type, or content that does not match the type its name claims. */
export class UnsupportedDocumentError extends AppError {
  constructor(message: string) {
    super(400, 'unsupported_document', message)
  }
}

/** Characters counted as one page of a text document (throughput figures, progress). */
export const TEXT_PAGE_CHARS = 3000

/**
 * Limits on reading a PDF when the caller gives none: a minute, and as many characters as the
 * default DOCUMENT_MAX_BYTES lets a text upload hold (src/app.ts passes the configured ones).
 */
export const DEFAULT_PDF_LIMITS: PdfLimits = { timeoutMs: 60_000, maxChars: 20 * 1024 * 1024 }

const extensionOf = (name: string) => /\.[^./\\]+$/.exec(name.toLowerCase())?.[0] ?? ''

export function mimeFromName(name: string): DocumentMime | undefined {
  const ext = extensionOf(name)
  for (const [mime, exts] of Object.entries(DOCUMENT_TYPES))
    if ((exts as readonly string[]).includes(ext)) return mime as DocumentMime
  return undefined
}

const PDF_MAGIC = [0x25, 0x50, 0x44, 0x46, 0x2d] // "%PDF-"
const startsWith = (bytes: Uint8Array, magic: number[]) => magic.every((b, i) => bytes[i] === b)

/** UTF-8 text without NUL bytes, or undefined for binary content. A BOM is dropped. */
function decodeText(bytes: Uint8Array): string | undefined {
  if (bytes.includes(0)) return undefined
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes)
  } catch {
    return undefined
  }
}

/**
 * Decides the type from the file name and checks the content against it: a PDF must be a PDF
 * that opens (in a worker thread, within `pdfLimits.timeoutMs`: a file with no cross-reference
 * table makes pdf.js scan all of it), text types must be UTF-8 text (not a renamed binary, not a
 * PDF), HTML must hold markup. Anything else is `unsupported_document`.
 */
export async function checkDocument(
  name: string,
  bytes: Uint8Array,
  pdfLimits: PdfLimits = DEFAULT_PDF_LIMITS,
): Promise<DocumentMime> {
  const mime = mimeFromName(name)
  if (!mime)
    throw new UnsupportedDocumentError(
      `"${name.slice(0, 100)}" is not a supported document; upload a .txt, .md, .html or .pdf file`,
    )
  if (bytes.byteLength === 0) throw new UnsupportedDocumentError('the document is empty')
  if (mime === 'application/pdf') {
    if (!startsWith(bytes, PDF_MAGIC))
      throw new UnsupportedDocumentError(`"${name.slice(0, 100)}" is named .pdf but its content is not a PDF`)
    let opens: boolean
    try {
      opens = await pdfOpens(bytes, pdfLimits)
    } catch (error) {
      if (!(error instanceof PdfReadError)) throw error
      opens = false
      if (error.reason !== 'unreadable') throw new UnsupportedDocumentError(`"${name.slice(0, 100)}": ${error.message}`)
    }
    if (!opens) throw new UnsupportedDocumentError(`"${name.slice(0, 100)}" is not a readable PDF`)
    return mime
  }
  if (startsWith(bytes, PDF_MAGIC))
    throw new UnsupportedDocumentError(`"${name.slice(0, 100)}" is a PDF but is named as text; name it .pdf`)
  const text = decodeText(bytes)
  if (text === undefined)
    throw new UnsupportedDocumentError(
      `"${name.slice(0, 100)}" is not UTF-8 text (binary content in a ${extensionOf(name)} file)`,
    )
  if (mime === 'text/html' && !hasMarkup(text))
    throw new UnsupportedDocumentError(`"${name.slice(0, 100)}" is named .html but holds no HTML markup`)
  return mime
}

function hasMarkup(html: string): boolean {
  let elements = 0
  const parser = new Parser({ onopentag: () => void elements++ })
  parser.write(html.slice(0, 64 * 1024))
  parser.end()
  return elements > 0
}

export interface ExtractedText {
  text: string
  pages: number
}

/** Characters handed to a parser between two turns of the event loop. */
export const SLICE_CHARS = 256 * 1024

/** Lets other work (streams, sockets) run between slices of a long job. */
export const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * The readable text of a checked document. Long texts are worked through in slices with the
 * event loop turning in between, so a 20 MB upload does not stall everyone's streams; a PDF is
 * read in a worker thread within `pdfLimits` (src/documents/pdf-reader.ts), and one that passes
 * them throws a `PdfReadError` whose message tells the user why.
 */
export async function extractDocumentText(
  mime: DocumentMime,
  bytes: Uint8Array,
  pdfLimits: PdfLimits = DEFAULT_PDF_LIMITS,
  signal?: AbortSignal,
): Promise<ExtractedText> {
  if (mime === 'application/pdf') return pdfText(bytes, pdfLimits, signal)
  const raw = await decodeInSlices(bytes)
  const text = mime === 'text/html' ? await htmlTextInSlices(raw) : raw
  return { text, pages: textPages(text) }
}

/** UTF-8 (checked at upload) to text with `\n` line ends, 1 MiB at a time. */
async function decodeInSlices(bytes: Uint8Array): Promise<string> {
  const decoder = new TextDecoder('utf-8')
  const pieces: string[] = []
  let carry = ''
  const STEP = 1024 * 1024
  for (let i = 0; i < bytes.byteLength; i += STEP) {
    const last = i + STEP >= bytes.byteLength
    let piece = carry + decoder.decode(bytes.subarray(i, i + STEP), { stream: !last })
    // A "\r" at the end may be the first half of a "\r\n" split across two slices.
    carry = !last && piece.endsWith('\r') ? '\r' : ''
    if (carry) piece = piece.slice(0, -1)
    pieces.push(piece.replace(/\r\n?/g, '\n'))
    if (!last) await yieldToLoop()
  }
  return pieces.join('')
}

export const textPages = (text: string) => Math.max(1, Math.ceil(text.length / TEXT_PAGE_CHARS))

/** Elements whose text is not part of what a reader sees. */
const HIDDEN = new Set(['script', 'style', 'noscript', 'template', 'svg', 'head'])
/** Elements that end a line of text. */
const BLOCKS = new Set([
  'p',
  'div',
  'br',
  'li',
  'ul',
  'ol',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'tr',
  'table',
  'section',
  'article',
  'header',
  'footer',
  'blockquote',
  'pre',
  'hr',
  'title',
  'dd',
  'dt',
  'figcaption',
  'main',
  'nav',
  'aside',
])

/** The visible text of an HTML page (a real parser; entities decoded), blocks on their own lines. */
export function htmlText(html: string): string {
  const collector = htmlTextCollector()
  collector.write(html)
  return collector.end()
}

/** `htmlText`, fed to the parser in slices with the event loop turning in between. */
export async function htmlTextInSlices(html: string): Promise<string> {
  const collector = htmlTextCollector()
  for (let i = 0; i < html.length; i += SLICE_CHARS) {
    collector.write(html.slice(i, i + SLICE_CHARS))
    if (i + SLICE_CHARS < html.length) await yieldToLoop()
  }
  return collector.end()
}

/** A streaming HTML parser that gathers the visible text; `end()` gives it, tidied. */
function htmlTextCollector(): { write(html: string): void; end(): string } {
  const parts: string[] = []
  let hidden = 0
  let title = ''
  let inTitle = false
  const parser = new Parser(
    {
      onopentag(name) {
        if (name === 'title') inTitle = true
        else if (HIDDEN.has(name)) hidden++
        if (BLOCKS.has(name)) parts.push('\n')
      },
      ontext(text) {
        if (inTitle) title += text
        else if (hidden === 0) parts.push(text)
      },
      onclosetag(name) {
        if (name === 'title') inTitle = false
        else if (HIDDEN.has(name)) hidden = Math.max(0, hidden - 1)
        if (BLOCKS.has(name)) parts.push('\n')
      },
    },
    { decodeEntities: true },
  )
  // Whole lines are tidied as they complete (spaces folded, ends trimmed), slice by slice.
  const tidied: string[] = []
  let pending = ''
  const flush = (final: boolean) => {
    pending += parts.join('')
    parts.length = 0
    const cut = final ? pending.length : pending.lastIndexOf('\n') + 1
    if (cut <= 0) return
    tidied.push(
      pending
        .slice(0, cut)
        .split('\n')
        .map((line) => line.replace(/[ \t\u00a0]+/g, ' ').trim())
        .join('\n'),
    )
    pending = pending.slice(cut)
  }
  return {
    write(piece) {
      parser.write(piece)
      flush(false)
    },
    end() {
      parser.end()
      flush(true)
      const body = tidied
        .join('')
        .replace(/\n{3,}/g, '\n\n')
        .trim()
      const heading = title.replace(/\s+/g, ' ').trim()
      return heading && !body.startsWith(heading) ? `${heading}\n\n${body}` : body
    },
  }
}
