/**
 * /api/documents over real HTTP (PROTOCOL.md §8, §5 paging): uploads as JSON text and as
 * multipart files (.txt, .md, .html, a real PDF), background ingestion with `document_status`
 * frames, type and content checks, the size limit, paging, delete, and another user's 404s.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { startFakeOllama, type FakeOllama } from '../../support/fake-ollama'
import { startTestServer, type TestServer } from '../../support/server'
import { registerUser, type TestUser } from '../../support/users'
import { expectError, expectJson } from '../../support/http'
import { WsClient } from '../../support/ws-client'
import {
  addTextDocument,
  makePdf,
  searchDocumentsAs,
  uploadFile,
  uploadText,
  waitForDocument,
} from '../../support/documents'

setDefaultTimeout(30_000)

let ollama: FakeOllama
let server: TestServer
let alice: TestUser
let bob: TestUser

beforeAll(async () => {
  ollama = await startFakeOllama()
  server = await startTestServer({ OLLAMA_HOST: ollama.url })
  alice = await registerUser(server, 'doc-alice')
  bob = await registerUser(server, 'doc-bob')
})
afterAll(async () => {
  await server?.close()
  await ollama?.close()
})

const as =
  (user: TestUser) =>
  (path: string, init: { method?: string; body?: unknown } = {}) =>
    server.api(path, { token: user.accessToken, ...init })

describe('upload and ingestion', () => {
  test('JSON text is accepted with 202 and ingested; the owner sees document_status frames up to ready', async () => {
    const ws = await WsClient.connect(server.wsUrl, alice.accessToken)
    const bobWs = await WsClient.connect(server.wsUrl, bob.accessToken)
    try {
      const text = Array.from(
        { length: 120 },
        (_, i) => `Paragraph ${i} talks about the lighthouse keeper and the northern storm number ${i}.`,
      ).join('\n\n')
      const res = await uploadText(server, alice, 'lighthouse.md', text)
      const { document } = await expectJson(res, 202)
      expect(document).toMatchObject({
        name: 'lighthouse.md',
        mime: 'text/markdown',
        bytes: Buffer.byteLength(text),
        status: 'processing',
        progress: 0,
        chunks: 0,
      })
      expect(typeof document.id).toBe('string')

      const ready = await ws.waitFor(
        (f) => f.type === 'document_status' && f.document.id === document.id && f.document.status === 'ready',
        20_000,
      )
      expect(ready.document.progress).toBe(1)
      expect(ready.document.chunks).toBeGreaterThan(1)
      const progress = ws.frames
        .filter((f) => f.type === 'document_status' && f.document.id === document.id)
        .map((f) => f.document.progress)
      // Progress only moves forward, and there was at least one step between 0 and 1.
      expect(progress).toEqual([...progress].sort((a, b) => a - b))
      expect(progress.some((p) => p > 0 && p < 1)).toBe(true)
      // Batched: fewer embed calls than chunks.
      expect(ollama.embedCalls.length).toBeLessThan(ready.document.chunks)

      const stored = await expectJson(await as(alice)(`/api/documents/${document.id}`))
      expect(stored.document).toMatchObject({
        id: document.id,
        status: 'ready',
        progress: 1,
        chunks: ready.document.chunks,
      })
      // Another user's socket heard nothing of it.
      expect(bobWs.frames.some((f) => f.type === 'document_status')).toBe(false)
    } finally {
      ws.close()
      bobWs.close()
    }
  })

  test('multipart .txt, .md and .html files are read; HTML through a parser (scripts and tags gone, entities decoded)', async () => {
    const html =
      '<html><head><title>Garden guide</title><script>var secret = "tomato-script"</script><style>p{color:red}</style></head><body><h1>Roses</h1><p>Roses need &amp; love full sun.</p></body></html>'
    for (const [name, content, mime] of [
      ['plain.txt', 'Plain words about kettles.', 'text/plain'],
      ['notes.md', '# Title\n\nMarkdown words about teapots.', 'text/markdown'],
      ['garden.html', html, 'text/html'],
    ] as const) {
      const { document } = await expectJson(await uploadFile(server, alice, name, content, 'text/plain'), 202)
      expect(document.mime).toBe(mime)
      const done = await waitForDocument(server, alice, document.id)
      expect(done.status).toBe('ready')
    }
    const passages = await searchAs(alice, 'roses sun')
    const rose = passages.find((p: any) => p.documentName === 'garden.html')!
    expect(rose.text).toContain('Roses need & love full sun.')
    expect(rose.text).toContain('Garden guide')
    expect(rose.text).not.toContain('tomato-script')
    expect(rose.text).not.toContain('<')
  })

  test('a real PDF (made with pdf-lib) is extracted page by page', async () => {
    const pdf = await makePdf(['The zeppelin hangar opened in 1931.', 'Its roof spans ninety metres of steel.'])
    const { document } = await expectJson(await uploadFile(server, alice, 'hangar.pdf', pdf, 'application/pdf'), 202)
    expect(document).toMatchObject({ mime: 'application/pdf', bytes: pdf.byteLength })
    const done = await waitForDocument(server, alice, document.id)
    expect(done.status).toBe('ready')
    const passages = await searchAs(alice, 'zeppelin hangar roof')
    expect(passages[0].documentName).toBe('hangar.pdf')
    expect(passages[0].text).toContain('The zeppelin hangar opened in 1931.')
    expect(passages[0].text).toContain('ninety metres of steel')
  })

  test('a PDF with no text layer fails with a reason', async () => {
    const { document } = await expectJson(
      await uploadFile(server, alice, 'blank.pdf', await makePdf(['']), 'application/pdf'),
      202,
    )
    const done = await waitForDocument(server, alice, document.id)
    expect(done.status).toBe('failed')
    expect(done.error).toMatch(/no text/)
  })
})

const searchAs = (user: TestUser, query: string) => searchDocumentsAs(server, user, query)

describe('type and content checks', () => {
  test('other types are 400 unsupported_document and store nothing', async () => {
    const before = (await expectJson(await as(alice)('/api/documents?limit=200'))).documents.length
    await expectError(await uploadFile(server, alice, 'sheet.csv', 'a,b\n1,2'), 400, 'unsupported_document')
    await expectError(
      await uploadFile(
        server,
        alice,
        'photo.png',
        new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0]),
      ),
      400,
      'unsupported_document',
    )
    await expectError(await uploadFile(server, alice, 'noextension', 'words'), 400, 'unsupported_document')
    expect((await expectJson(await as(alice)('/api/documents?limit=200'))).documents.length).toBe(before)
  })

  test('content that does not match the extension is refused', async () => {
    // Text named .pdf, a PDF named .txt, binary bytes named .txt, "HTML" without markup.
    await expectError(
      await uploadFile(server, alice, 'fake.pdf', 'just some words, not a PDF'),
      400,
      'unsupported_document',
    )
    await expectError(
      await uploadFile(server, alice, 'real.txt', await makePdf(['hidden'])),
      400,
      'unsupported_document',
    )
    await expectError(
      await uploadFile(server, alice, 'binary.txt', new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0x00, 0xff, 0xfe, 0x00])),
      400,
      'unsupported_document',
    )
    await expectError(
      await uploadFile(server, alice, 'page.html', 'no markup here at all'),
      400,
      'unsupported_document',
    )
    // A PDF header on a broken file.
    await expectError(
      await uploadFile(server, alice, 'broken.pdf', '%PDF-1.7\nthis is not a real pdf body'),
      400,
      'unsupported_document',
    )
    await expectError(await uploadText(server, alice, 'paper.pdf', 'text named as a pdf'), 400, 'unsupported_document')
  })

  test('bad bodies are 400 in the error envelope', async () => {
    await expectError(await as(alice)('/api/documents', { body: { name: 'x.txt' } }), 400, 'invalid_input')
    await expectError(await as(alice)('/api/documents', { body: { name: '', text: 'x' } }), 400, 'invalid_input')
    await expectError(await as(alice)('/api/documents', { body: '{not json' }), 400, 'invalid_json')
    const form = new FormData()
    form.append('other', 'no file field')
    await expectError(
      await fetch(`${server.url}/api/documents`, {
        method: 'POST',
        headers: { authorization: `Bearer ${alice.accessToken}` },
        body: form,
      }),
      400,
      'invalid_input',
    )
    await expectError(await server.api('/api/documents', { body: { name: 'a.txt', text: 'x' } }), 401)
  })
})

describe('size limit', () => {
  test('over DOCUMENT_MAX_BYTES is 413, declared or streamed (chunked, no Content-Length), and above the general 8 MiB body limit it still counts its own', async () => {
    const small = await startTestServer({ OLLAMA_HOST: ollama.url, DOCUMENT_MAX_BYTES: '2048' })
    try {
      const carol = await registerUser(small, 'doc-carol')
      await expectError(
        await small.api('/api/documents', {
          token: carol.accessToken,
          body: { name: 'big.txt', text: 'x'.repeat(70_000) },
        }),
        413,
        'payload_too_large',
      )
      await expectError(await uploadFile(small, carol, 'big.txt', 'y'.repeat(70_000)), 413, 'payload_too_large')
      // A streamed body with no Content-Length is counted as it arrives.
      const stream = new ReadableStream({
        start(controller) {
          for (let i = 0; i < 200; i++) controller.enqueue(new TextEncoder().encode('z'.repeat(1024)))
          controller.close()
        },
      })
      const res = await fetch(`${small.url}/api/documents`, {
        method: 'POST',
        headers: { authorization: `Bearer ${carol.accessToken}`, 'content-type': 'application/json' },
        body: stream,
        duplex: 'half',
      } as RequestInit)
      await expectError(res, 413, 'payload_too_large')
      const { document } = await expectJson(
        await small.api('/api/documents', { token: carol.accessToken, body: { name: 'ok.txt', text: 'fits' } }),
        202,
      )
      expect(document.bytes).toBe(4)
      // The limit is the document's, not the request's: exactly 2048 bytes is taken as a file
      // (its multipart envelope around it) and as JSON text; one byte more is refused, saying why.
      const exact = await expectJson(await uploadFile(small, carol, 'exact.txt', 'e'.repeat(2048)), 202)
      expect(exact.document.bytes).toBe(2048)
      const exactText = await expectJson(
        await small.api('/api/documents', {
          token: carol.accessToken,
          body: { name: 'exact.md', text: 'm'.repeat(2048) },
        }),
        202,
      )
      expect(exactText.document.bytes).toBe(2048)
      const over = await expectError(
        await uploadFile(small, carol, 'over.txt', 'o'.repeat(2049)),
        413,
        'payload_too_large',
      )
      expect(over.error.message).toContain('DOCUMENT_MAX_BYTES')
      expect(
        (await expectJson(await small.api('/api/documents', { token: carol.accessToken }))).documents,
      ).toHaveLength(3)
    } finally {
      await small.close()
    }
  })

  test('a 9 MB document passes although other routes stop at 8 MiB', async () => {
    const text = 'river delta sediment '.repeat(450_000) // ~9.4 MB
    const res = await uploadFile(server, alice, 'big.txt', text)
    const { document } = await expectJson(res, 202)
    expect(document.bytes).toBe(Buffer.byteLength(text))
    await as(alice)(`/api/documents/${document.id}`, { method: 'DELETE' })
    await expectError(
      await as(alice)('/api/notes', { body: { title: 't', body: 'x'.repeat(9 * 1024 * 1024) } }),
      413,
      'payload_too_large',
    )
  })
})

describe('list, read, delete', () => {
  test('§5 paging: limit, opaque cursor, nextCursor null on the last page; bad limits are 400', async () => {
    const dave = await registerUser(server, 'doc-dave')
    const ids: string[] = []
    for (let i = 0; i < 5; i++)
      ids.push((await expectJson(await uploadText(server, dave, `d${i}.txt`, `document number ${i}`), 202)).document.id)
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const page: any = await expectJson(
        await server.api(`/api/documents?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, {
          token: dave.accessToken,
        }),
      )
      expect(page.documents.length).toBeLessThanOrEqual(2)
      seen.push(...page.documents.map((d: any) => d.id))
      cursor = page.nextCursor
      pages++
    } while (cursor)
    expect(pages).toBe(3)
    expect(seen).toEqual([...ids].reverse()) // newest first, each once
    const all = await expectJson(await server.api('/api/documents', { token: dave.accessToken }))
    expect(all.documents).toHaveLength(5)
    expect(all.nextCursor).toBeNull()
    for (const bad of ['0', '201', '-1', 'abc', '1.5'])
      await expectError(await server.api(`/api/documents?limit=${bad}`, { token: dave.accessToken }), 400)
    await expectError(await server.api('/api/documents?cursor=garbage', { token: dave.accessToken }), 400)
  })

  test('delete takes the chunks and vectors with it', async () => {
    const doc = await addTextDocument(server, alice, 'walrus.txt', 'The walrus sleeps on the ice floe near Svalbard.')
    expect((await searchAs(alice, 'walrus ice floe')).some((p: any) => p.documentId === doc.id)).toBe(true)
    expect((await as(alice)(`/api/documents/${doc.id}`, { method: 'DELETE' })).status).toBe(204)
    await expectError(await as(alice)(`/api/documents/${doc.id}`), 404, 'not_found')
    expect((await searchAs(alice, 'walrus ice floe')).some((p: any) => p.documentId === doc.id)).toBe(false)
    const left = await server.services.database.client.execute({
      sql: 'SELECT count(*) AS n FROM document_chunks WHERE document_id = ?',
      args: [doc.id],
    })
    expect(Number(left.rows[0].n)).toBe(0)
    const fts = await server.services.database.client.execute({
      sql: "SELECT count(*) AS n FROM document_chunks_fts WHERE document_chunks_fts MATCH 'walrus'",
      args: [],
    })
    expect(Number(fts.rows[0].n)).toBe(0)
    await expectError(await as(alice)(`/api/documents/${doc.id}`, { method: 'DELETE' }), 404)
  })

  test("another user's document is a 404 everywhere and never listed", async () => {
    const doc = await addTextDocument(server, alice, 'private.txt', 'Alice keeps her private diary here.')
    await expectError(await as(bob)(`/api/documents/${doc.id}`), 404, 'not_found')
    await expectError(await as(bob)(`/api/documents/${doc.id}`, { method: 'DELETE' }), 404, 'not_found')
    expect((await expectJson(await as(bob)('/api/documents'))).documents.some((d: any) => d.id === doc.id)).toBe(false)
    expect((await expectJson(await as(alice)(`/api/documents/${doc.id}`))).document.status).toBe('ready')
  })
})

describe('models', () => {
  test('GET /api/models lists chat models only: the embedding model is not offered', async () => {
    ollama.models.push('nomic-embed-text')
    try {
      const { models } = await expectJson(await as(alice)('/api/models'))
      expect(models).toContain('llama3.2:latest')
      expect(models.some((m: string) => m.startsWith('nomic-embed-text'))).toBe(false)
    } finally {
      ollama.models.pop()
    }
  })
})

describe('embedding model down', () => {
  test('ingestion fails with a reason naming the embedding, and the document stays listed as failed', async () => {
    const down = await startTestServer({ OLLAMA_HOST: 'http://127.0.0.1:9' })
    try {
      const erin = await registerUser(down, 'doc-erin')
      const { document } = await expectJson(
        await uploadText(down, erin, 'note.txt', 'Words that cannot be embedded today.'),
        202,
      )
      const done = await waitForDocument(down, erin, document.id)
      expect(done.status).toBe('failed')
      expect(done.error).toMatch(/embedding failed/)
      expect(done.error).toMatch(/ollama/i)
      expect(
        (await expectJson(await down.api('/api/documents', { token: erin.accessToken }))).documents[0],
      ).toMatchObject({ id: document.id, status: 'failed' })
    } finally {
      await down.close()
    }
  })
})

describe('a failure half-way', () => {
  test('the embedder failing on the second batch fails the document and leaves none of its chunks searchable', async () => {
    const flaky = await startFakeOllama({ embedFailure: (call) => (call === 1 ? 500 : undefined) })
    const half = await startTestServer({ OLLAMA_HOST: flaky.url })
    try {
      const frank = await registerUser(half, 'doc-frank')
      // 40 paragraphs of ~700 characters: one chunk each, so two embed batches (32 + 8).
      const text = Array.from({ length: 40 }, (_, i) =>
        `Chapter ${i} describes the glacier retreating ${i} metres. `.repeat(12),
      ).join('\n\n')
      const { document } = await expectJson(await uploadText(half, frank, 'glacier.txt', text), 202)
      const done = await waitForDocument(half, frank, document.id)
      expect(flaky.embedCalls.length).toBe(1) // the first batch was embedded (and stored) before the failure
      expect(done).toMatchObject({ status: 'failed', chunks: 0 })
      expect(done.error).toMatch(/embedding failed/)
      const left = await half.services.database.client.execute({
        sql: 'SELECT count(*) AS n FROM document_chunks WHERE document_id = ?',
        args: [document.id],
      })
      expect(Number(left.rows[0].n)).toBe(0)
      expect(await searchDocumentsAs(half, frank, 'glacier retreating')).toEqual([])
    } finally {
      await half.close()
      await flaky.close()
    }
  })
})

describe('queue share', () => {
  test('uploads waiting for ingestion are capped per user (5 × DOCUMENT_MAX_BYTES): then 429 with Retry-After; other users are not affected', async () => {
    // An embedder that never answers keeps the first uploads running and the rest waiting.
    const stuck = await startFakeOllama({ embedDelayMs: 600_000 })
    const small = await startTestServer({ OLLAMA_HOST: stuck.url, DOCUMENT_MAX_BYTES: '2048' })
    try {
      const [gina, hal] = [await registerUser(small, 'doc-gina'), await registerUser(small, 'doc-hal')]
      const text = 'q'.repeat(2000)
      // Two run at once (they hold no queue share), five wait: 10,000 of 10,240 bytes.
      for (let i = 0; i < 7; i++) await expectJson(await uploadText(small, gina, `d${i}.txt`, text), 202)
      const refused = await uploadText(small, gina, 'd7.txt', text)
      expect(refused.headers.get('retry-after')).toBe('10')
      await expectError(refused, 429, 'too_many_documents')
      expect((await expectJson(await small.api('/api/documents', { token: gina.accessToken }))).documents).toHaveLength(
        7,
      )
      await expectJson(await uploadText(small, hal, 'mine.txt', text), 202)
    } finally {
      await small.close()
      await stuck.close()
    }
  })
})
