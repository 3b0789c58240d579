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
export class ServiceUnavailableError extends AppError {
  constructor(code: string, message: string) {
    super(503, code, message)
  }
}

/** Largest request body the API takes (a CSV upload is the biggest legitimate one). */
export const MAX_BODY_BYTES = 8 * 1024 * 1024

/** Routes ("METHOD /path") that read and limit their own body (a larger limit than the general one). */
const ownBodyRoutes = new Set<string>()

/**
 * Marks a route as reading its own body: the general 8 MiB check and the JSON parser below
 * leave it alone, so the route must count (and limit) what it reads itself.
 */
export function readsOwnBody(method: string, path: string) {
  ownBodyRoutes.add(`${method.toUpperCase()} ${path}`)
}

function isOwnBodyRoute(request: Request): boolean {
  if (ownBodyRoutes.size === 0) return false
  return ownBodyRoutes.has(`${request.method} ${new URL(request.url).pathname}`)
}

export function errorBody(code: string, message: string) {
  return { error: { code, message } }
}

function json(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } })
}

/** Summarises an Elysia validation error without echoing the whole schema back. */
function validationMessage(error: any): string {
  try {
    const first = error.all?.[0] ?? error.valueError
    if (first) {
      const path = String(first.path ?? '').replace(/^\//, '').replace(/\//g, '.')
      return path ? `${path}: ${first.summary ?? first.message}` : String(first.summary ?? first.message)
    }
  } catch {}
  return 'invalid request'
}

/** The one place that turns any thrown error into the error envelope of PROTOCOL.md §2. */
export const errorHandler = new Elysia({ name: 'error-handler' })
  .error({ AppError })
  // Strict JSON: Elysia's own parser lets a malformed body through as "no body" on routes whose
  // body is optional; bad input must be a clear 400 instead.
  // Bodies over the limit get the error envelope; Bun itself only cuts bodies far past it.
  .onRequest(({ request }) => {
    const length = Number(request.headers.get('content-length') ?? 0)
    if (length > MAX_BODY_BYTES && !isOwnBodyRoute(request)) return json(413, errorBody('payload_too_large', `the request body is larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB`))
  })
  .onParse({ as: 'global' }, async ({ request, contentType }) => {
    if (!contentType?.toLowerCase().startsWith('application/json') || isOwnBodyRoute(request)) return
    const text = await request.text()
    if (text.trim() === '') return {}
    try {
      return JSON.parse(text)
    } catch {
      throw new AppError(400, 'invalid_json', 'the request body is not valid JSON')
    }
  })
  .onError({ as: 'global' }, ({ code, error }) => {
    if (error instanceof AppError) return json(error.status, errorBody(error.code, error.message), error.headers)
    switch (code) {
      case 'VALIDATION':
        return json(400, errorBody('invalid_input', validationMessage(error)))
      case 'PARSE':
        return json(400, errorBody('invalid_json', 'the request body is not valid JSON'))
      case 'NOT_FOUND':
        return json(404, errorBody('not_found', 'no such route'))
      case 'INVALID_COOKIE_SIGNATURE':
      case 'INVALID_FILE_TYPE':
        return json(400, errorBody('invalid_input', String((error as Error).message)))
    }
    const status = (error as any)?.status
    if (status === 413 || /too large/i.test(String((error as Error)?.message))) {
      return json(413, errorBody('payload_too_large', 'the request body is too large'))
    }
    log.error('unhandled error', { error: error instanceof Error ? error.message : String(error), stack: (error as Error)?.stack })
    return json(500, errorBody('internal_error', 'something went wrong on the server'))
  })
