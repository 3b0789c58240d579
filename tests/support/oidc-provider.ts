/**
 * A REAL OpenID Connect provider (`oidc-provider` v9) for tests, on 127.0.0.1 and a free port,
 * plus helpers that drive a sign-in without a browser: follow redirects with fetch, carry
 * cookies, parse and submit the provider's dev-interaction login and consent forms, or cancel.
 *
 *   const idp = await startOidcProvider()
 *   const server = await startOidcTestServer(idp)          // picks its port, registers its callback
 *   const { response } = await oidcSignIn(server.url, { login: 'alice' })
 *
 * The chicken-and-egg of ports: the issuer URL must be known before the chat server starts,
 * and the chat server's callback URL before the provider's client can allow it. The provider
 * listens first (its port decides the issuer); its one confidential client is served through
 * the storage adapter from a mutable record, so `setRedirectUri()`/`addRedirectUri()` take
 * effect on the next request. `startOidcTestServer` reserves a free port for the chat server
 * (its OIDC_REDIRECT_URI must name it), starts it, then registers the callback.
 * A browser test can use the same provider: navigate to `${server.url}/api/auth/oidc/login`,
 * type the account's sub into "login" (any password), press "Sign-in", then "Continue"
 * (or "[ Cancel ]" to deny).
 */
import { createServer, type Server } from 'node:http'
import { generateKeyPairSync } from 'node:crypto'
import { createServer as createNetServer, type AddressInfo } from 'node:net'
import { startTestServer, type TestServer } from './server'

export interface TestAccount {
  /** The subject, also what to type in the provider's "login" field. */
  sub: string
  email?: string
  email_verified?: boolean
  name?: string
}

export interface TestOidcProvider {
  issuer: string
  clientId: string
  clientSecret: string
  /** The in-memory account store, keyed by sub; add or change accounts at any time. */
  accounts: Map<string, TestAccount>
  /** Sets the client's only redirect URI (the chat server's callback). */
  setRedirectUri(uri: string): void
  /** Adds one more redirect URI (several chat servers sharing this provider). */
  addRedirectUri(uri: string): void
  readonly redirectUris: string[]
  /** The OIDC_* variables for `startTestServer`, redirect URI included when given. */
  serverEnv(redirectUri?: string): Record<string, string>
  /** Every request the provider received (method and path), oldest first. */
  requests: Array<{ method: string; path: string }>
  /** The underlying oidc-provider instance (events, advanced tweaks). */
  provider: OidcProviderInstance
  close(): Promise<void>
}

export const DEFAULT_ACCOUNTS: TestAccount[] = [
  { sub: 'alice', email: 'alice@idp.example.test', email_verified: true, name: 'Alice Example' },
  { sub: 'bob', email: 'bob@idp.example.test', email_verified: true, name: 'Bob Example' },
  { sub: 'mallory', email: 'mallory@idp.example.test', email_verified: false, name: 'Mallory Unverified' },
]

/** A tiny per-provider storage adapter; the `Client` model is answered from a mutable record. */
function adapterFactory(clientRecord: () => Record<string, unknown> | undefined) {
  const store = new Map<string, { payload: any; expiresAt: number }>()
  const live = (key: string) => {
    const e = store.get(key)
    if (!e) return undefined
    if (e.expiresAt <= Date.now()) {
      store.delete(key)
      return undefined
    }
    return e.payload
  }
  return class TestAdapter {
    constructor(readonly model: string) {}
    key(id: string) {
      return `${this.model}:${id}`
    }
    async upsert(id: string, payload: any, expiresIn?: number) {
      if (this.model === 'Client') return
      const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity
      store.set(this.key(id), { payload, expiresAt })
    }
    async find(id: string) {
      if (this.model === 'Client') {
        const c = clientRecord()
        return c && c.client_id === id ? structuredClone(c) : undefined
      }
      return live(this.key(id))
    }
    async findByUid(uid: string) {
      for (const [key, e] of store)
        if (key.startsWith(`${this.model}:`) && e.payload?.uid === uid && e.expiresAt > Date.now()) return e.payload
      return undefined
    }
    async findByUserCode(userCode: string) {
      for (const [key, e] of store)
        if (key.startsWith(`${this.model}:`) && e.payload?.userCode === userCode && e.expiresAt > Date.now())
          return e.payload
      return undefined
    }
    async consume(id: string) {
      const p = live(this.key(id))
      if (p) p.consumed = Math.floor(Date.now() / 1000)
    }
    async destroy(id: string) {
      store.delete(this.key(id))
    }
    async revokeByGrantId(grantId: string) {
      for (const [key, e] of store) if (e.payload?.grantId === grantId) store.delete(key)
    }
  }
}

/** Runs `fn` with oidc-provider's development-mode console warnings filtered out. */
function quietly<T>(fn: () => T): T {
  const { warn, info } = console
  const keep =
    (orig: (...a: any[]) => void) =>
    (...args: any[]) => {
      if (typeof args[0] === 'string' && args[0].includes('oidc-provider')) return
      orig(...args)
    }
  console.warn = keep(warn)
  console.info = keep(info)
  try {
    const result = fn()
    if (result instanceof Promise) {
      return result.finally(() => {
        console.warn = warn
        console.info = info
      }) as T
    }
    console.warn = warn
    console.info = info
    return result
  } catch (error) {
    console.warn = warn
    console.info = info
    throw error
  }
}

/** The parts of an oidc-provider `Provider` tests use (the package ships no type declarations). */
export interface OidcProviderInstance {
  callback(): (req: any, res: any) => void
  on(event: string, listener: (...args: any[]) => void): unknown
  [key: string]: any
}
type ProviderClass = new (issuer: string, configuration: Record<string, unknown>) => OidcProviderInstance

// Imported lazily so its "unsupported runtime" notice (it targets Node; it runs fine on Bun) stays quiet.
const providerModule = 'oidc-provider'
let providerClass: Promise<ProviderClass> | undefined
const loadProvider = () =>
  (providerClass ??= quietly(() => import(providerModule)).then((m: any) => m.default as ProviderClass))

/**
 * Starts the provider on 127.0.0.1, port 0, with one confidential client
 * (client_secret_basic, authorization_code only, PKCE required) and an in-memory account store.
 */
export async function startOidcProvider(
  opts: {
    accounts?: TestAccount[]
    clientId?: string
    clientSecret?: string
    redirectUri?: string
    /** 'all' (default): email/name in the ID token, as most providers do; 'minimal': only in userinfo. */
    idTokenClaims?: 'all' | 'minimal'
  } = {},
): Promise<TestOidcProvider> {
  const clientId = opts.clientId ?? 'chat-server-test'
  const clientSecret = opts.clientSecret ?? `secret-${crypto.randomUUID()}`
  const accounts = new Map((opts.accounts ?? DEFAULT_ACCOUNTS).map((a) => [a.sub, { ...a }]))
  let redirectUris: string[] = opts.redirectUri ? [opts.redirectUri] : []

  let handler: (req: any, res: any) => void = (_req, res) => {
    res.statusCode = 503
    res.end()
  }
  const requests: Array<{ method: string; path: string }> = []
  const server: Server = createServer((req, res) => {
    requests.push({ method: req.method ?? 'GET', path: (req.url ?? '/').split('?')[0] })
    handler(req, res)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  const issuer = `http://127.0.0.1:${port}`

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const jwk = {
    ...(privateKey.export({ format: 'jwk' }) as Record<string, unknown>),
    kid: 'test-key',
    use: 'sig',
    alg: 'RS256',
  }

  const clientRecord = () =>
    redirectUris.length
      ? {
          client_id: clientId,
          client_secret: clientSecret,
          redirect_uris: [...redirectUris],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_basic',
        }
      : undefined

  const ProviderClass = await loadProvider()
  const provider = quietly(
    () =>
      new ProviderClass(issuer, {
        adapter: adapterFactory(clientRecord) as any,
        clients: [],
        async findAccount(_ctx: unknown, id: string) {
          const account = accounts.get(id)
          if (!account) return undefined
          return {
            accountId: id,
            async claims() {
              const a = accounts.get(id) ?? account
              return { sub: a.sub, email: a.email, email_verified: a.email_verified, name: a.name }
            },
          }
        },
        claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
        // 'all': put the scope's claims into the ID token too, as most real providers do.
        conformIdTokenClaims: opts.idTokenClaims === 'minimal',
        pkce: { required: () => true },
        features: { devInteractions: { enabled: true } },
        ttl: { AuthorizationCode: 60, AccessToken: 600, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
        cookies: { keys: [crypto.randomUUID()] },
        jwks: { keys: [jwk as any] },
        async renderError(ctx: any, out: Record<string, string>) {
          ctx.type = 'html'
          ctx.body = `<!doctype html><title>oidc error</title><pre id="error">${String(out.error).replace(/[<&]/g, '')}: ${String(out.error_description ?? '').replace(/[<&]/g, '')}</pre>`
        },
      } as any),
  )
  const callback = quietly(() => provider.callback())
  handler = callback

  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    requests,
    provider,
    get redirectUris() {
      return [...redirectUris]
    },
    setRedirectUri(uri: string) {
      redirectUris = [uri]
    },
    addRedirectUri(uri: string) {
      if (!redirectUris.includes(uri)) redirectUris.push(uri)
    },
    serverEnv(uri?: string) {
      return {
        OIDC_ISSUER: issuer,
        OIDC_CLIENT_ID: clientId,
        OIDC_CLIENT_SECRET: clientSecret,
        // Without `uri`, a placeholder: register the real callback with setRedirectUri() once known.
        OIDC_REDIRECT_URI: uri ?? redirectUris[0] ?? 'http://127.0.0.1:1/api/auth/oidc/callback',
      }
    },
    async close() {
      server.closeAllConnections?.()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const probe = createNetServer()
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = probe.address() as AddressInfo
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return port
}

/**
 * Starts the chat server wired to `idp`: the server's callback URL has to be in its own config
 * (OIDC_REDIRECT_URI) before it listens, so a free port is picked first (retried if taken in
 * between), then that callback is added to the provider's client. Several servers may share one
 * provider. `env` overrides anything (e.g. OIDC_LINK_BY_EMAIL, ALLOW_SIGNUP).
 */
export async function startOidcTestServer(
  idp: TestOidcProvider,
  env: Record<string, string> = {},
): Promise<TestServer> {
  let lastError: unknown
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort()
    const redirectUri = `http://127.0.0.1:${port}/api/auth/oidc/callback`
    try {
      const server = await startTestServer({ ...idp.serverEnv(redirectUri), PORT: String(port), ...env })
      idp.addRedirectUri(redirectUri)
      return server
    } catch (error) {
      lastError = error
      if (
        !/EADDRINUSE|address already in use|port .* in use/i.test(
          String((error as any)?.code ?? '') + String((error as Error)?.message),
        )
      )
        throw error
    }
  }
  throw lastError
}

// ---------------------------------------------------------------------------------------------
// Driving a sign-in without a browser
// ---------------------------------------------------------------------------------------------

/** A minimal per-origin cookie jar (name, value, path, expiry) for fetch with redirect: 'manual'. */
export class CookieJar {
  private cookies = new Map<string, Map<string, { value: string; path: string; expiresAt: number }>>()

  store(url: string | URL, response: Response): void {
    const u = new URL(url)
    let jar = this.cookies.get(u.origin)
    if (!jar) this.cookies.set(u.origin, (jar = new Map()))
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';')
      const i = pair.indexOf('=')
      if (i < 0) continue
      const name = pair.slice(0, i).trim()
      const value = pair.slice(i + 1).trim()
      let path = '/'
      let expiresAt = Infinity
      for (const attr of attrs) {
        const [k, v = ''] = attr.split('=').map((s) => s.trim())
        const key = k.toLowerCase()
        if (key === 'path') path = v || '/'
        else if (key === 'max-age') expiresAt = Date.now() + Number(v) * 1000
        else if (key === 'expires' && expiresAt === Infinity) expiresAt = Date.parse(v)
      }
      const id = `${name};${path}`
      if (expiresAt <= Date.now()) jar.delete(id)
      else jar.set(id, { value, path, expiresAt })
    }
  }

  header(url: string | URL): string {
    const u = new URL(url)
    const jar = this.cookies.get(u.origin)
    if (!jar) return ''
    const out: string[] = []
    for (const [id, c] of jar) {
      if (c.expiresAt <= Date.now()) continue
      if (u.pathname === c.path || u.pathname.startsWith(c.path.endsWith('/') ? c.path : c.path + '/'))
        out.push(`${id.split(';')[0]}=${c.value}`)
    }
    return out.join('; ')
  }

  /** Every cookie for an origin (name → value), for assertions. */
  all(origin: string): Record<string, string> {
    return Object.fromEntries(
      [...(this.cookies.get(new URL(origin).origin) ?? new Map()).entries()].map(([id, c]) => [
        id.split(';')[0],
        c.value,
      ]),
    )
  }
}

/** fetch with the jar's cookies, no automatic redirects. */
export async function jarFetch(jar: CookieJar, url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers)
  const cookie = jar.header(url)
  if (cookie) headers.set('cookie', cookie)
  const response = await fetch(url, { ...init, headers, redirect: 'manual' })
  jar.store(url, response)
  return response
}

interface ParsedForm {
  action: string
  method: string
  fields: Record<string, string>
}

/** The forms and links of an HTML page, parsed with Bun's HTMLRewriter (entities decoded). */
async function parsePage(html: string, baseUrl: string): Promise<{ forms: ParsedForm[]; links: string[] }> {
  const forms: ParsedForm[] = []
  const links: string[] = []
  const decode = (s: string | null) =>
    (s ?? '').replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, e: string) => {
      const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }
      if (named[e.toLowerCase()]) return named[e.toLowerCase()]
      return String.fromCodePoint(e[1].toLowerCase() === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10))
    })
  await new HTMLRewriter()
    .on('form', {
      element(el) {
        forms.push({
          action: new URL(decode(el.getAttribute('action')) || baseUrl, baseUrl).href,
          method: (el.getAttribute('method') ?? 'get').toLowerCase(),
          fields: {},
        })
      },
    })
    .on('form input', {
      element(el) {
        const name = el.getAttribute('name')
        if (name && forms.length) forms[forms.length - 1].fields[decode(name)] = decode(el.getAttribute('value'))
      },
    })
    .on('a[href]', {
      element(el) {
        links.push(new URL(decode(el.getAttribute('href')), baseUrl).href)
      },
    })
    .transform(new Response(html))
    .text()
  return { forms, links }
}

export interface AuthorizeOptions {
  /** The account's sub, typed into the provider's login form. */
  login: string
  password?: string
  /** Cancel at the provider instead (→ `error=access_denied`): at the login or the consent step. */
  deny?: boolean | 'login' | 'consent'
  /** The browser's cookies at the provider; pass the same jar to reuse the provider session. */
  jar?: CookieJar
  maxSteps?: number
}

/**
 * Follows the provider's redirects from an authorization URL, submits its login and consent
 * forms (or cancels), and returns the URL the provider finally redirects to — the chat server's
 * callback with `code`/`state` (or `error`) — without requesting it.
 */
export async function authorizeAtProvider(authUrl: string, opts: AuthorizeOptions): Promise<string> {
  const jar = opts.jar ?? new CookieJar()
  const providerOrigin = new URL(authUrl).origin
  let url = authUrl
  let init: RequestInit = {}
  for (let step = 0; step < (opts.maxSteps ?? 20); step++) {
    const response = await jarFetch(jar, url, init)
    init = {}
    const location = response.headers.get('location')
    if (response.status >= 300 && response.status < 400 && location) {
      const next = new URL(location, url).href
      if (new URL(next).origin !== providerOrigin) return next
      url = next
      continue
    }
    const html = await response.text()
    if (response.status !== 200)
      throw new Error(`provider answered ${response.status} at ${url}: ${html.slice(0, 500)}`)
    const { forms, links } = await parsePage(html, url)
    const form = forms.find((f) => f.fields.prompt === 'login' || f.fields.prompt === 'consent')
    if (!form) throw new Error(`no login or consent form at ${url}: ${html.slice(0, 500)}`)
    const prompt = form.fields.prompt as 'login' | 'consent'
    if (opts.deny === true || opts.deny === prompt) {
      const abort = links.find((l) => /\/abort$/.test(new URL(l).pathname))
      if (!abort) throw new Error(`no cancel link at ${url}`)
      url = abort
      continue
    }
    const fields = { ...form.fields }
    if (prompt === 'login') Object.assign(fields, { login: opts.login, password: opts.password ?? 'any-password' })
    url = form.action
    init = {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    }
  }
  throw new Error(`sign-in at the provider did not finish within ${opts.maxSteps ?? 20} steps`)
}

export interface StartedSignIn {
  /** The provider's authorization URL the chat server redirected to. */
  authUrl: string
  state: string
  /** The browser's cookies at the chat server (holds the state-binding cookie). */
  jar: CookieJar
  response: Response
}

/** GET /api/auth/oidc/login on the chat server; expects the 302 to the provider. */
export async function startSignIn(serverUrl: string, jar = new CookieJar()): Promise<StartedSignIn> {
  const response = await jarFetch(jar, `${serverUrl}/api/auth/oidc/login`)
  const location = response.headers.get('location')
  if (response.status !== 302 || !location)
    throw new Error(`login did not redirect: ${response.status} ${await response.text()}`)
  return { authUrl: location, state: new URL(location).searchParams.get('state') ?? '', jar, response }
}

/** Requests the callback URL as the browser holding `jar` would (JSON or HTML). */
export function finishSignIn(
  callbackUrl: string,
  jar: CookieJar,
  opts: { accept?: 'json' | 'html' } = {},
): Promise<Response> {
  const accept = opts.accept === 'html' ? 'text/html,application/xhtml+xml,*/*;q=0.8' : 'application/json'
  return jarFetch(jar, callbackUrl, { headers: { accept } })
}

/**
 * The whole flow: start at the chat server, sign in (or cancel) at the provider, come back to
 * the callback. `response` is the callback's answer; `callbackUrl` lets a test replay it.
 */
export async function oidcSignIn(
  serverUrl: string,
  opts: AuthorizeOptions & {
    accept?: 'json' | 'html'
    serverJar?: CookieJar
    beforeCallback?: (started: StartedSignIn, callbackUrl: string) => void | Promise<void>
  },
): Promise<{ response: Response; callbackUrl: string; started: StartedSignIn }> {
  const started = await startSignIn(serverUrl, opts.serverJar)
  const callbackUrl = await authorizeAtProvider(started.authUrl, opts)
  await opts.beforeCallback?.(started, callbackUrl)
  const response = await finishSignIn(callbackUrl, started.jar, { accept: opts.accept })
  return { response, callbackUrl, started }
}
