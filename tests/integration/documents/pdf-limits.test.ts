/**
 * PDF bombs (docs/api.md §Documents, "Reading limits"): a small PDF whose one page inflates to
 * tens of MB of drawing commands is read in a worker thread, so the server keeps answering
 * while it is read, and its document ends `failed` with the limit it passed — the time limit
 * (PDF_READ_TIMEOUT_MS, small here) or the text cap (DOCUMENT_MAX_BYTES characters).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { makeBlankLzwPdfBomb, makePdf, makePdfBomb, uploadFile, waitForDocument } from '../../support/documents'
import { startFakeOllama, type FakeOllama } from '../../support/fake-ollama'
import { expectJson } from '../../support/http'
import { startTestServer, type TestServer } from '../../support/server'
import { registerUser, type TestUser } from '../../support/users'

setDefaultTimeout(20_000)

/** Eleven characters of text per command. */
const TEXT = 'BT /F1 12 Tf 72 712 Td (Hello world) Tj ET\n'

let ollama: FakeOllama
beforeAll(async () => {
  ollama = await startFakeOllama()
})
afterAll(async () => {
  await ollama?.close()
})

describe('the time limit', () => {
  let server: TestServer
  let user: TestUser
  beforeAll(async () => {
    server = await startTestServer({ OLLAMA_HOST: ollama.url, PDF_READ_TIMEOUT_MS: '1500' })
    user = await registerUser(server, 'pdf-slow')
  })
  afterAll(async () => {
    await server?.close()
  })

  test('a PDF that takes longer to read fails with that reason, and the server answers while it is read', async () => {
    // 200 MB of commands that draw a space, in a file of about 1.1 MB: seconds of pdf.js work
    // without a pause (LZW is decoded synchronously), and blank text, so a document read to the
    // end would fail at once ("no text") rather than go on to be embedded.
    const bomb = makeBlankLzwPdfBomb(200 * 1024 * 1024)
    expect(bomb.byteLength).toBeLessThan(2 * 1024 * 1024)
    const { document } = await expectJson(await uploadFile(server, user, 'slow.pdf', bomb, 'application/pdf'), 202)

    // One health check after another, each answered while the document is still being read.
    // Before the fix the server answered a few (while pdf.js set up) and then nothing until the
    // whole page had been read, by when the document had failed.
    for (let i = 0; i < 100; i++) {
      expect((await server.api('/health')).status).toBe(200)
      const { document: now } = await expectJson(
        await server.api(`/api/documents/${document.id}`, { token: user.accessToken }),
      )
      expect({ check: i, status: now.status }).toEqual({ check: i, status: 'processing' })
    }

    const done = await waitForDocument(server, user, document.id)
    expect(done.status).toBe('failed')
    expect(done.error).toContain('the PDF took too long to read')
    expect(done.chunks).toBe(0)
  })

  test('a normal PDF is still read within the same limit', async () => {
    const pdf = await makePdf(['The observatory dome turns on rails.'])
    const { document } = await expectJson(await uploadFile(server, user, 'dome.pdf', pdf, 'application/pdf'), 202)
    const done = await waitForDocument(server, user, document.id)
    expect(done).toMatchObject({ status: 'ready', chunks: 1 })
  })
})

describe('the text cap', () => {
  let server: TestServer
  let user: TestUser
  beforeAll(async () => {
    // The cap is DOCUMENT_MAX_BYTES characters: 64 KiB here.
    server = await startTestServer({ OLLAMA_HOST: ollama.url, DOCUMENT_MAX_BYTES: String(64 * 1024) })
    user = await registerUser(server, 'pdf-wordy')
  })
  afterAll(async () => {
    await server?.close()
  })

  test('a PDF yielding more characters than DOCUMENT_MAX_BYTES fails with that reason', async () => {
    // 4 MB of text commands, about a million characters, in a file well under the 64 KiB limit.
    const bomb = makePdfBomb(TEXT, 4 * 1024 * 1024)
    expect(bomb.byteLength).toBeLessThan(64 * 1024)
    const { document } = await expectJson(await uploadFile(server, user, 'wordy.pdf', bomb, 'application/pdf'), 202)
    const done = await waitForDocument(server, user, document.id)
    expect(done.status).toBe('failed')
    expect(done.error).toBe('the PDF holds more than 65,536 characters of text, more than one document may hold')
    expect(done.chunks).toBe(0)
  })
})
