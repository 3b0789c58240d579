import { Elysia } from 'elysia'

/** On every response, API and UI alike: no MIME sniffing, no referrer leaks, no framing. */
export const BASE_SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
} as const

/**
 * JSON and text answers are never documents: a browser that opens one directly runs nothing
 * and frames nothing. (The UI pages set their own, looser policy in src/web.)
 */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

/** Paths the web UI serves (its own headers: CSP for the page, long caching for hashed assets). */
const isUiPath = (pathname: string) => pathname === '/' || pathname === '/index.html' || pathname.startsWith('/assets/')

/**
 * Auth answers and user data must not be kept by browsers or proxies: the API, the doors for
 * other clients (/v1, /mcp: answers and tool results are the key's user's data), and the
 * status and metrics answers.
 */
const isPrivatePath = (pathname: string) =>
  pathname.startsWith('/api/') ||
  pathname === '/v1' ||
  pathname.startsWith('/v1/') ||
  pathname === '/mcp' ||
  pathname === '/ready' ||
  pathname === '/metrics'

/** The headers one response gets, by its path (headers a route set itself win). */
export function securityHeadersFor(pathname: string): Record<string, string> {
  if (isUiPath(pathname)) return { ...BASE_SECURITY_HEADERS }
  return {
    ...BASE_SECURITY_HEADERS,
    'content-security-policy': API_CSP,
    ...(isPrivatePath(pathname) && { 'cache-control': 'no-store' }),
  }
}

/**
 * Puts the security headers in `set.headers` before anything else runs: Elysia merges them into
 * every answer — a handler's value, a Response a route built itself, the error envelope, an early
 * refusal (body too large) — without overriding a header the response already has.
 */
export function securityHeaders() {
  return new Elysia({ name: 'security-headers' }).onRequest(({ request, set }) => {
    for (const [name, value] of Object.entries(securityHeadersFor(new URL(request.url).pathname)))
      set.headers[name] ??= value
  })
}
