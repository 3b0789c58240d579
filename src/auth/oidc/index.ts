import { Elysia } from 'elysia'
import { AppError, errorBody } from '../../http/errors'
import { log } from '../../log'
import type { Session } from '../service'
import { OidcError, type OidcService } from './service'
import type { AuthGuard } from '../guard'

/** Where the web UI reads the session the callback page stores. */
export const SESSION_STORAGE_KEY = 'chat-session'

const baseHeaders = {
  'cache-control': 'no-store',
  pragma: 'no-cache',
  // The callback URL carries the code and state: never leak it to the next page or a sub-resource.
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
}

/** A JSON client asked for JSON and not for HTML; everything else is treated as a browser. */
export function wantsJson(request: Request): boolean {
  const accept = (request.headers.get('accept') ?? '').toLowerCase()
  return accept.includes('application/json') && !accept.includes('text/html')
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`=/]/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** JSON that is safe inside an inline <script>: no `</script>`, `<!--`, or JS line terminators. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029')
}

const randomNonce = () => Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64')

const style = `body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}p{line-height:1.5}a{color:#0b5cad}code{background:#f3f3f3;padding:0 .2em}`

function page(title: string, body: string, nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style nonce="${nonce}">${style}</style>
</head>
<body>
${body}
</body>
</html>
`
}

function html(
  status: number,
  content: string,
  nonce: string,
  extraHeaders: Record<string, string | undefined> = {},
): Response {
  const headers = new Headers({
    ...baseHeaders,
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  })
  for (const [k, v] of Object.entries(extraHeaders)) if (v) headers.append(k, v)
  return new Response(content, { status, headers })
}

function json(status: number, body: unknown, extraHeaders: Record<string, string | undefined> = {}): Response {
  const headers = new Headers({ ...baseHeaders, 'content-type': 'application/json' })
  for (const [k, v] of Object.entries(extraHeaders)) if (v) headers.append(k, v)
  return new Response(JSON.stringify(body), { status, headers })
}

/** The browser's landing page: stores the session where the web UI looks for it, then goes home. */
export function sessionPage(session: Session, clearCookie?: string): Response {
  const nonce = randomNonce()
  const script = `(function(){
var s=${scriptJson({ user: session.user, accessToken: session.accessToken, refreshToken: session.refreshToken, expiresIn: session.expiresIn })};
s.obtainedAt=Date.now();
try{localStorage.setItem(${scriptJson(SESSION_STORAGE_KEY)},JSON.stringify(s))}catch(e){document.getElementById('msg').textContent='Signed in, but this browser refused to store the session (is storage disabled?).';return}
location.replace('/');
})();`
  const body = `<h1>Signed in</h1>
<p id="msg">Signing you in as ${escapeHtml(session.user.name)}&hellip;</p>
<noscript><p>JavaScript is needed to finish signing in. <a href="/">Back to the app</a></p></noscript>
<script nonce="${nonce}">${script}</script>`
  return html(200, page('Signed in', body, nonce), nonce, { 'set-cookie': clearCookie })
}

const titles: Record<number, string> = {
  400: 'Sign-in could not be completed',
  401: 'Sign-in failed',
  403: 'Sign-in not allowed',
  404: 'Single sign-on is not available',
  409: 'Account already exists',
  503: 'Sign-in service unavailable',
}

/** A human error page with the reason and a way back; never a stack trace. */
export function errorPage(status: number, code: string, message: string, clearCookie?: string): Response {
  const nonce = randomNonce()
  const title = titles[status] ?? 'Sign-in failed'
  const body = `<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(message.charAt(0).toUpperCase() + message.slice(1))}.</p>
<p><small>Error code: <code>${escapeHtml(code)}</code></small></p>
<p><a href="/">Back to the app</a> &middot; <a href="/api/auth/oidc/login">Try signing in again</a></p>`
  return html(status, page(title, body, nonce), nonce, { 'set-cookie': clearCookie })
}

function failure(request: Request, error: unknown): Response {
  let status = 500
  let code = 'internal_error'
  let message = 'something went wrong on the server'
  let clearCookie: string | undefined
  if (error instanceof AppError) {
    ;({ status, code, message } = error)
    if (error instanceof OidcError) clearCookie = error.clearCookie
  } else {
    log.error('oidc sign-in failed unexpectedly', {
      error: error instanceof Error ? error.message : String(error),
      stack: (error as Error)?.stack,
    })
  }
  return wantsJson(request)
    ? json(status, errorBody(code, message), { 'set-cookie': clearCookie })
    : errorPage(status, code, message, clearCookie)
}

const notConfigured = () =>
  json(404, errorBody('oidc_not_configured', 'single sign-on (OpenID Connect) is not configured on this server'))

/**
 * GET /api/auth/oidc/login, /api/auth/oidc/callback (PROTOCOL.md §2), /api/auth/oidc/config, and
 * POST /api/auth/oidc/link (signed in: link an SSO identity to this account).
 * With `oidc` undefined (no OIDC_* configuration) the first two answer 404 `oidc_not_configured`.
 */
export function oidcRoutes(oidc: OidcService | undefined, guard: AuthGuard) {
  return (
    new Elysia({ name: 'oidc-routes' })
      .use(guard)
      // Linking an SSO identity to an existing account happens only from a signed-in session of
      // that account: this answers the provider URL to send the browser to (and binds it by cookie).
      .post(
        '/api/auth/oidc/link',
        async ({ request, user }) => {
          if (!oidc) return notConfigured()
          try {
            const { url, setCookie } = await oidc.loginUrl(user.id)
            return json(200, { url }, { 'set-cookie': setCookie })
          } catch (error) {
            return failure(new Request(request.url, { headers: { accept: 'application/json' } }), error)
          }
        },
        { auth: true },
      )
      .get('/api/auth/oidc/config', () => json(200, { enabled: !!oidc }))
      .get('/api/auth/oidc/login', async ({ request }) => {
        if (!oidc) return notConfigured()
        try {
          const { url, setCookie } = await oidc.loginUrl()
          return new Response(null, {
            status: 302,
            headers: { ...baseHeaders, location: url, 'set-cookie': setCookie },
          })
        } catch (error) {
          return failure(request, error)
        }
      })
      .get('/api/auth/oidc/callback', async ({ request }) => {
        if (!oidc) return notConfigured()
        try {
          const { session, clearCookie } = await oidc.callback(new URL(request.url), request.headers.get('cookie'))
          return wantsJson(request)
            ? json(200, session, { 'set-cookie': clearCookie })
            : sessionPage(session, clearCookie)
        } catch (error) {
          return failure(request, error)
        }
      })
  )
}
