/**
 * Helpers for document tests: uploads over real HTTP (JSON or multipart), waiting for ingestion
 * by polling the API (a condition, not a sleep), and a small real PDF made with pdf-lib.
 */
import { deflateSync } from 'node:zlib'
import { PDFDocument, StandardFonts } from 'pdf-lib'
import { createUserContext } from '../../src/context/user-context'
import { lzwRepeated } from './lzw'
import type { TestServer } from './server'
import type { TestUser } from './users'

export async function uploadText(server: TestServer, user: TestUser, name: string, text: string): Promise<Response> {
  return server.api('/api/documents', { token: user.accessToken, body: { name, text } })
}

export async function uploadFile(
  server: TestServer,
  user: TestUser,
  name: string,
  content: BlobPart,
  type = 'application/octet-stream',
): Promise<Response> {
  const form = new FormData()
  form.append('file', new File([content], name, { type }))
  return fetch(`${server.url}/api/documents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${user.accessToken}` },
    body: form,
  })
}

/** Polls GET /api/documents/:id until ingestion ends (ready or failed). */
export async function waitForDocument(
  server: TestServer,
  user: TestUser,
  id: string,
  timeoutMs = 20_000,
): Promise<any> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const res = await server.api(`/api/documents/${id}`, { token: user.accessToken })
    const { document } = (await res.json()) as any
    if (document && document.status !== 'processing') return document
    if (Date.now() > deadline) throw new Error(`document ${id} still processing after ${timeoutMs} ms`)
    await Bun.sleep(20)
  }
}

/** Uploads a text document and waits until it is ready. */
export async function addTextDocument(server: TestServer, user: TestUser, name: string, text: string): Promise<any> {
  const res = await uploadText(server, user, name, text)
  if (res.status !== 202) throw new Error(`upload failed: ${res.status} ${await res.text()}`)
  const { document } = (await res.json()) as any
  const done = await waitForDocument(server, user, document.id)
  if (done.status !== 'ready') throw new Error(`document ${name} ended ${done.status}: ${done.error}`)
  return done
}

/** A real PDF with one page per text (Helvetica, so the text layer extracts as written). */
export async function makePdf(pages: string[]): Promise<Uint8Array<ArrayBuffer>> {
  const doc = await PDFDocument.create()
  const font = await doc.embedFont(StandardFonts.Helvetica)
  for (const text of pages) {
    const page = doc.addPage([612, 792])
    text.split('\n').forEach((line, i) => {
      page.drawText(line, { x: 50, y: 740 - i * 16, font, size: 11 })
    })
  }
  return new Uint8Array(await doc.save())
}

/**
 * A "PDF bomb": one page whose FlateDecode content stream inflates to `inflatedBytes` of
 * `command` repeated. Repetition compresses about 1000:1, so tens of MB of drawing commands make
 * a file of tens of KB.
 */
export function makePdfBomb(command: string, inflatedBytes: number): Uint8Array<ArrayBuffer> {
  return onePagePdf(deflateSync(Buffer.alloc(inflatedBytes, command), { level: 9 }), 'FlateDecode')
}

/**
 * A PDF bomb pdf.js reads without a pause: one page of about `inflatedBytes` of `( ) Tj`
 * (draw a space) in an LZWDecode stream, which it decodes synchronously (tests/support/lzw.ts).
 * Its text is blank.
 */
export function makeBlankLzwPdfBomb(inflatedBytes: number): Uint8Array<ArrayBuffer> {
  return onePagePdf(lzwRepeated('BT /F1 12 Tf 72 712 Td\n', '( ) Tj\n', inflatedBytes, 'ET\n'), 'LZWDecode')
}

/** A one-page PDF (Helvetica as /F1) with the given encoded content stream. */
function onePagePdf(content: Uint8Array, filter: 'FlateDecode' | 'LZWDecode'): Uint8Array<ArrayBuffer> {
  const enc = new TextEncoder()
  const parts: Uint8Array[] = []
  const offsets: number[] = []
  let at = 0
  const push = (piece: string | Uint8Array) => {
    const bytes = typeof piece === 'string' ? enc.encode(piece) : piece
    parts.push(bytes)
    at += bytes.byteLength
  }
  const object = (n: number, body: string | Uint8Array) => {
    offsets[n] = at
    if (typeof body === 'string') push(`${n} 0 obj\n${body}\nendobj\n`)
    else {
      push(`${n} 0 obj\n<< /Length ${body.byteLength} /Filter /${filter} >>\nstream\n`)
      push(body)
      push('\nendstream\nendobj\n')
    }
  }
  push('%PDF-1.4\n')
  object(1, '<< /Type /Catalog /Pages 2 0 R >>')
  object(2, '<< /Type /Pages /Kids [3 0 R] /Count 1 >>')
  object(
    3,
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
  )
  object(4, content)
  object(5, '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>')
  const xref = at
  const rows = offsets.slice(1).map((offset) => `${String(offset).padStart(10, '0')} 00000 n \n`)
  push(
    `xref\n0 6\n0000000000 65535 f \n${rows.join('')}trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`,
  )
  return new Uint8Array(Buffer.concat(parts))
}

/** `search_documents` as the tool runs it: the real service, inside the user's own context. */
export async function searchDocumentsAs(server: TestServer, user: TestUser, query: string, limit = 5) {
  const context = createUserContext({ userId: user.id, role: 'member' })
  try {
    return await context.run(() => server.services.documents.search(query, limit))
  } finally {
    await context.dispose()
  }
}
