/**
 * Request body limits for every framing (PROTOCOL.md §5 "Abuse limits"): a body is counted as
 * it streams, so a chunked upload without Content-Length is cut at the limit instead of read in
 * full, a huge declared Content-Length is refused before a byte is read, and every refusal is
 * the JSON 413 envelope. A route can take a larger limit than the 8 MiB default.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { Elysia, t } from 'elysia'
import { expectError, expectJson } from '../../support/http'
import { errorHandler } from '../../../src/http/errors'
import { bodyLimit, DEFAULT_BODY_LIMIT } from '../../../src/http/body-limit'
import { useTestServer } from '../../support/fixtures'

setDefaultTimeout(60_000) // megabytes over loopback on a shared 2-core machine

const MiB = 1024 * 1024

/** A chunked body (no Content-Length) of `total` bytes; `produced()` says how much was pulled from it. */
function chunkedBody(total: number, prefix = '') {
  let produced = 0
  const head = new TextEncoder().encode(prefix)
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (produced >= total) return controller.close()
      const chunk =
        produced === 0 && head.byteLength ? head : new Uint8Array(Math.min(64 * 1024, total - produced)).fill(0x61)
      produced += chunk.byteLength
      controller.enqueue(chunk)
    },
  })
  return { stream, produced: () => produced }
}

const {
  server,
  users: [user],
} = useTestServer({ users: ['bodies'] })

const threadCount = async () =>
  (await expectJson(await server.api('/api/threads', { token: user.accessToken }))).threads.length

describe('the real server', () => {
  /** A chunked 20 MB JSON body to POST /api/threads, as `token` (or nobody): it must change nothing. */
  async function chunkedThread(token: string | undefined) {
    const before = await threadCount()
    const body = chunkedBody(20 * 1000 * 1000, '{"title":"')
    const res = await fetch(`${server.url}/api/threads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
      body: body.stream,
      duplex: 'half',
    } as RequestInit)
    // The server stopped reading near the limit: what the client produced is the limit plus
    // what the sockets buffer, far from the 20 MB it offered.
    expect(body.produced()).toBeLessThan(20 * 1000 * 1000)
    expect(await threadCount()).toBe(before)
    return res
  }

  test('a chunked 20 MB body is cut at the limit with the 413 envelope, and changes nothing', async () => {
    await expectError(await chunkedThread(user.accessToken), 413, 'payload_too_large')
  })

  test('without a token, a chunked body over the limit hears 401: credentials are checked first', async () => {
    await expectError(await chunkedThread(undefined), 401, 'unauthorized')
  })

  test('a declared 40 MB body is refused with the envelope before it is read', async () => {
    const res = await fetch(`${server.url}/api/threads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${user.accessToken}` },
      body: JSON.stringify({ title: 'x'.repeat(40 * 1000 * 1000) }),
    })
    const error = await expectError(res, 413, 'payload_too_large')
    expect(error.error.message).toContain('8 MiB')
  })

  test('a body just over 8 MiB with Content-Length is 413; one under it is parsed as usual', async () => {
    const over = await server.api('/api/threads', {
      token: user.accessToken,
      body: { title: 'x'.repeat(DEFAULT_BODY_LIMIT) },
    })
    await expectError(over, 413, 'payload_too_large')
    // A chunked body under the limit is read and parsed normally.
    const json = new TextEncoder().encode(JSON.stringify({ title: 'chunked but small' }))
    const res = await fetch(`${server.url}/api/threads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${user.accessToken}` },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(json.slice(0, 5))
          controller.enqueue(json.slice(5))
          controller.close()
        },
      }),
      duplex: 'half',
    } as RequestInit)
    expect((await expectJson(res, 201)).thread.title).toBe('chunked but small')
  })
})

describe('per-route limits and other body types', () => {
  let app: { stop(closeActive?: boolean): unknown; server: { port?: number } | null }
  let url: string
  beforeAll(() => {
    app = new Elysia()
      .use(errorHandler)
      .use(bodyLimit({ defaultBytes: 1 * MiB, routes: [{ method: 'POST', path: '/big/:id', maxBytes: 4 * MiB }] }))
      .post('/small', ({ body }) => ({ length: (body as { data: string }).data.length }), {
        body: t.Object({ data: t.String() }),
      })
      .post('/big/:id', ({ body, params }) => ({ id: params.id, length: (body as { data: string }).data.length }), {
        body: t.Object({ data: t.String() }),
      })
      .post('/text', ({ body }) => ({ length: String(body).length }))
      .post('/form', ({ body }) => ({ size: ((body as { file: File }).file as File).size }))
      .post('/peer', ({ body, request, server }) => ({ body, address: server?.requestIP(request)?.address ?? null }))
      .listen({ port: 0, maxRequestBodySize: Number.MAX_SAFE_INTEGER })
    url = `http://127.0.0.1:${app.server!.port}`
  })
  afterAll(() => app?.stop(true))

  const post = (path: string, body: BodyInit, headers: Record<string, string> = {}) =>
    fetch(url + path, {
      method: 'POST',
      body,
      headers,
      ...(body instanceof ReadableStream && { duplex: 'half' }),
    } as RequestInit)

  test('a route with its own limit takes more than the default; others keep the default', async () => {
    const two = JSON.stringify({ data: 'y'.repeat(2 * MiB) })
    await expectError(await post('/small', two, { 'content-type': 'application/json' }), 413, 'payload_too_large')
    expect(await expectJson(await post('/big/7', two, { 'content-type': 'application/json' }))).toEqual({
      id: '7',
      length: 2 * MiB,
    })
    // Chunked, the same: the big route reads 2 MiB, and cuts 6 MiB at its own limit.
    const chunkedOk = chunkedBody(2 * MiB, '{"data":"')
    const ok = await post('/big/8', chunkedOk.stream, { 'content-type': 'application/json' })
    // Not valid JSON (no closing quote) but read in full: the limit let it through to the parser.
    await expectError(ok, 400, 'invalid_json')
    const chunkedBig = chunkedBody(6 * MiB, '{"data":"')
    await expectError(
      await post('/big/9', chunkedBig.stream, { 'content-type': 'application/json' }),
      413,
      'payload_too_large',
    )
  })

  test('the request stays the one Bun knows: the peer address (rate limits, audit) is still found', async () => {
    expect(await expectJson(await post('/peer', '{"a":1}', { 'content-type': 'application/json' }))).toEqual({
      body: { a: 1 },
      address: expect.stringContaining('127.0.0.1'),
    })
  })

  test('text and multipart bodies are limited too, chunked or not', async () => {
    expect(await expectJson(await post('/text', 'hello', { 'content-type': 'text/plain' }))).toEqual({ length: 5 })
    await expectError(
      await post('/text', chunkedBody(3 * MiB).stream, { 'content-type': 'text/plain' }),
      413,
      'payload_too_large',
    )
    const form = new FormData()
    form.set('file', new File(['hello'], 'a.txt'))
    expect(await expectJson(await post('/form', form))).toEqual({ size: 5 })
    const bigForm = new FormData()
    bigForm.set('file', new File(['z'.repeat(2 * MiB)], 'b.txt'))
    await expectError(await post('/form', bigForm), 413, 'payload_too_large')
  })
})
