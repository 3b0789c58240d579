import { Elysia } from 'elysia'
import { log } from '../log'

/** An error a client may see: a stable snake_case code, a human message and an HTTP status. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }
}

export class NotFoundError extends AppError {
  constructor(what = 'resource') {
    super(404, 'not_found', `${what} not found`)
  }
}
export class InvalidInputError extends AppError {
  constructor(message: string) {
    super(400, 'invalid_input', message)
  }
}
export class UnauthorizedError extends AppError {
  constructor(code = 'unauthorized', message = 'a valid access token is required') {
    super(401, code, message)
  }
}
export class ForbiddenError extends AppError {
  constructor(code = 'forbidden', message = 'not allowed') {
    super(403, code, message)
  }
}
export class ConflictError extends AppError {
  constructor(code: string, message: string) {
    super(409, code, message)
  }
}
export class RateLimitedError extends AppError {
  constructor(retryAfterSeconds: number, message = 'too many attempts, try again later') {
    super(429, 'rate_limited', message, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) })
  }
}
/** A run refused by the user's rolling 24 h quota; `retryAfter` seconds until one more fits. */
export class QuotaExceededError extends AppError {
  constructor(
    readonly retryAfter: number,
    message: string,
  ) {
    super(429, 'quota_exceeded', message, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfter))) })
  }
}
export class ServiceUnavailableError extends AppError {
  constructor(code: string, message: string) {
    super(503, code, message)
  }
}

/** A request body over its route's limit (src/http/body-limit.ts), however it was framed. */
export class PayloadTooLargeError extends AppError {
  constructor(maxBytes: number) {
    super(413, 'payload_too_large', `the request body is larger than ${formatBytes(maxBytes)}`)
  }
}

function formatBytes(bytes: number): string {
  const mib = bytes / 1024 / 1024
  return mib >= 1 ? `${Number.isInteger(mib) ? mib : mib.toFixed(1)} MiB` : `${bytes} bytes`
}

/** Largest request body the API takes unless a route says more (kept here for older imports). */
export const MAX_BODY_BYTES = 8 * 1024 * 1024

/**
 * Routes ("METHOD /path") that take larger bodies and read and limit them themselves: the JSON
 * parser below leaves them alone (their limit is in `bodyLimits`, src/app.ts).
 */
const OWN_BODY_ROUTES = new Set(['POST /api/threads/import', 'POST /api/documents'])

function isOwnBodyRoute(request: Request): boolean {
  return OWN_BODY_ROUTES.has(`${request.method} ${new URL(request.url).pathname}`)
}

export function errorBody(code: string, message: string) {
  return { error: { code, message } }
}

/** OpenAI's error `type` for a status (PROTOCOL.md §7: /v1/* answers errors in OpenAI's shape). */
export function openaiErrorType(status: number, code: string): string {
  if (code === 'quota_exceeded') return 'insufficient_quota'
  if (status === 401) return 'authentication_error'
  if (status === 403) return 'permission_error'
  if (status === 404) return 'not_found_error'
  if (status === 429) return 'rate_limit_error'
  if (status >= 500) return 'server_error'
  return 'invalid_request_error'
}

/** `{"error":{"message","type","code"}}`: the OpenAI-compatible API's error body. */
export function openaiErrorBody(status: number, code: string, message: string) {
  return { error: { message, type: openaiErrorType(status, code), code } }
}

const isOpenAiPath = (request: Request | undefined) => {
  if (!request) return false
  const path = new URL(request.url).pathname
  return path === '/v1' || path.startsWith('/v1/')
}

function json(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } })
}

/** An error answer in the shape the route family uses: §2's envelope, or OpenAI's on /v1/*. */
export function errorResponse(
  request: Request | undefined,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
) {
  return json(
    status,
    isOpenAiPath(request) ? openaiErrorBody(status, code, message) : errorBody(code, message),
    headers,
  )
}

/** Summarises an Elysia validation error without echoing the whole schema back. */
function validationMessage(error: any): string {
  try {
    const first = error.all?.[0] ?? error.valueError
    if (first) {
      const path = String(first.path ?? '')
        .replace(/^\//, '')
        .replace(/\//g, '.')
      return path ? `${path}: ${first.summary ?? first.message}` : String(first.summary ?? first.message)
    }
  } catch {}
  return 'invalid request'
}

/**
 * JSON bodies that could not be read (not JSON, or cut at their limit), by request. Elysia parses
 * a body before the guards run (they check credentials in the transform stage, ahead of
 * validation), so the problem is kept here and reported once they have let the request through:
 * a caller without a valid token hears 401, and a member on an admin route 403, whatever it sent.
 */
const unreadableBodies = new WeakMap<Request, AppError>()

async function readJsonBody(request: Request): Promise<unknown> {
  let text: string
  try {
    text = await request.text()
  } catch (error) {
    if (!(error instanceof PayloadTooLargeError)) throw error
    unreadableBodies.set(request, error)
    return {}
  }
  if (text.trim() === '') return {}
  try {
    return JSON.parse(text)
  } catch {
    unreadableBodies.set(request, new AppError(400, 'invalid_json', 'the request body is not valid JSON'))
    return {}
  }
}

/** The one place that turns any thrown error into the error envelope of PROTOCOL.md §2. */
export const errorHandler = new Elysia({ name: 'error-handler' })
  .error({ AppError })
  // Strict JSON: Elysia's own parser lets a malformed body through as "no body" on routes whose
  // body is optional; bad input must be a clear 400 instead. (Body size: src/http/body-limit.ts.)
  .onParse({ as: 'global' }, async ({ request, contentType }) => {
    if (!contentType?.toLowerCase().startsWith('application/json') || isOwnBodyRoute(request)) return
    return readJsonBody(request)
  })
  // Runs after the guards' checks and validation: a body the schema would take (or a route
  // without one) still must not stand in for the one that could not be read.
  .onBeforeHandle({ as: 'global' }, ({ request }) => {
    const unreadable = unreadableBodies.get(request)
    if (unreadable) throw unreadable
  })
  .onError({ as: 'global' }, ({ code, error, request }) => {
    const fail = (status: number, code: string, message: string, headers?: Record<string, string>) =>
      errorResponse(request, status, code, message, headers)
    // Elysia wraps whatever a body parser throws (a body cut at its limit) in a ParseError; the
    // AppError inside says what really happened. A schema that refused the empty stand-in for an
    // unreadable body is answered with why the body could not be read.
    const cause = (error as { cause?: unknown })?.cause
    const unreadable = code === 'VALIDATION' ? unreadableBodies.get(request) : undefined
    const known = unreadable ?? (cause instanceof AppError ? cause : error)
    if (known instanceof AppError) return fail(known.status, known.code, known.message, known.headers)
    switch (code) {
      case 'VALIDATION':
        return fail(400, 'invalid_input', validationMessage(error))
      case 'PARSE':
        return fail(400, 'invalid_json', 'the request body is not valid JSON')
      case 'NOT_FOUND':
        return fail(404, 'not_found', 'no such route')
      case 'INVALID_COOKIE_SIGNATURE':
      case 'INVALID_FILE_TYPE':
        return fail(400, 'invalid_input', String((error as Error).message))
    }
    const status = (error as any)?.status
    if (status === 413 || /too large/i.test(String((error as Error)?.message))) {
      return fail(413, 'payload_too_large', 'the request body is too large')
    }
    log.error('unhandled error', {
      error: error instanceof Error ? error.message : String(error),
      stack: (error as Error)?.stack,
    })
    return fail(500, 'internal_error', 'something went wrong on the server')
  })
