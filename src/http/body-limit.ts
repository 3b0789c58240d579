import { Elysia } from 'elysia'
import { PayloadTooLargeError, errorResponse } from './errors'

/** Largest request body a route takes unless it says more (PROTOCOL.md §5 "Abuse limits"). */
export const DEFAULT_BODY_LIMIT = 8 * 1024 * 1024

/** A route that takes more (or less) than the default: `{ method: 'POST', path: '/api/import', maxBytes }`. */
export interface RouteBodyLimit {
  method: string
  /** The route's path as registered, `:param` segments allowed. */
  path: string
  maxBytes: number
}

export interface BodyLimitOptions {
  defaultBytes?: number
  routes?: RouteBodyLimit[]
}

const BODY_READERS = ['text', 'json', 'formData', 'arrayBuffer', 'blob', 'bytes'] as const

const pathPattern = (path: string) =>
  new RegExp(
    `^${path
      .replace(/\/+$/, '')
      .split('/')
      .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/')}/?$`,
  )

/** The limit that applies to one request: its route's own, else the default. */
export function bodyLimitResolver(options: BodyLimitOptions = {}) {
  const fallback = options.defaultBytes ?? DEFAULT_BODY_LIMIT
  const rules = (options.routes ?? []).map((r) => ({
    method: r.method.toUpperCase(),
    pattern: pathPattern(r.path),
    maxBytes: r.maxBytes,
  }))
  return (method: string, pathname: string) =>
    rules.find((r) => r.method === method.toUpperCase() && r.pattern.test(pathname))?.maxBytes ?? fallback
}

/** The largest limit of all routes: what Bun itself must let through so we can answer with the envelope. */
export function largestBodyLimit(options: BodyLimitOptions = {}): number {
  return Math.max(options.defaultBytes ?? DEFAULT_BODY_LIMIT, ...(options.routes ?? []).map((r) => r.maxBytes))
}

/** The body stream, cut with `PayloadTooLargeError` at the first byte past `maxBytes`. */
export function limitedStream(source: ReadableStream<Uint8Array>, maxBytes: number): ReadableStream<Uint8Array> {
  let seen = 0
  return source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength
        // Erroring the transform cancels the source: the rest of the upload is never read.
        if (seen > maxBytes) controller.error(new PayloadTooLargeError(maxBytes))
        else controller.enqueue(chunk)
      },
    }),
  )
}

/**
 * Limits every request body as it arrives, whatever its framing: a declared `Content-Length`
 * over the limit is refused before a byte is read, and a chunked body is counted as it streams
 * and cut at the limit. Either way the client gets 413 `payload_too_large` in the envelope.
 *
 * The body readers of the request (`text()`, `json()`, `formData()`…, what Elysia's parsers
 * and ours call) are swapped for ones that read the counted stream. The Request object itself
 * stays the same one, because Bun's `server.requestIP(request)` only knows the original.
 */
export function bodyLimit(options: BodyLimitOptions = {}) {
  const limitFor = bodyLimitResolver(options)
  return new Elysia({ name: 'body-limit' }).onRequest(({ request }) => {
    if (!request.body) return
    const maxBytes = limitFor(request.method, new URL(request.url).pathname)
    const declared = Number(request.headers.get('content-length') ?? NaN)
    if (declared > maxBytes) {
      const error = new PayloadTooLargeError(maxBytes)
      // The unread upload is not worth keeping the connection for.
      return errorResponse(request, 413, error.code, error.message, { connection: 'close' })
    }
    const source = request.body
    let counted: Response | undefined
    const view = () =>
      (counted ??= new Response(limitedStream(source, maxBytes), {
        headers: { 'content-type': request.headers.get('content-type') ?? '' },
      }))
    for (const reader of BODY_READERS)
      Object.defineProperty(request, reader, { configurable: true, value: () => (view() as any)[reader]() })
    Object.defineProperty(request, 'body', { configurable: true, get: () => view().body })
  })
}
