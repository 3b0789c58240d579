/**
 * Helpers for document tests: uploads over real HTTP (JSON or multipart), waiting for ingestion
 * by polling the API (a condition, not a sleep), and a small real PDF made with pdf-lib.
 */
import { PDFDocument, StandardFonts } from 'pdf-lib'
import { createUserContext } from '../../src/context/user-context'
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

/** `search_documents` as the tool runs it: the real service, inside the user's own context. */
export async function searchDocumentsAs(server: TestServer, user: TestUser, query: string, limit = 5) {
  const context = createUserContext({ userId: user.id, role: 'member' })
  try {
    return await context.run(() => server.services.documents.search(query, limit))
  } finally {
    await context.dispose()
  }
}
