import { timingSafeEqual } from 'node:crypto'
import * as client from 'openid-client'
import type { Config } from '../../config'
import type { UsersRepository } from '../../db/repositories/users'
import { userView } from '../../db/repositories/users'
import { AppError } from '../../http/errors'
import { log } from '../../log'
import type { AuthService, Session } from '../service'

/**
 * OpenID Connect sign-in (authorization code + PKCE S256 + state + nonce), knowing nothing of
 * HTTP beyond URLs and cookie headers. The code verifier and nonce never leave this process:
 * the browser only carries the `state` (in the URL) and a random binding secret (in a
 * short-lived HttpOnly cookie) that proves the callback comes back to the browser that started it.
 */

export type OidcConfig = NonNullable<Config['oidc']>

/** An OIDC sign-in failure; `clearCookie` (a Set-Cookie value) removes the spent binding cookie. */
export class OidcError extends AppError {
  clearCookie?: string
}

const SCOPE = 'openid email profile'
/** How long a started sign-in may take at the provider. */
export const PENDING_TTL_MS = 10 * 60 * 1000
/** Most sign-ins in flight at once; the oldest are dropped beyond it. */
export const PENDING_MAX = 10_000
const COOKIE_PREFIX = 'chat_oidc_'
const COOKIE_PATH = '/api/auth/oidc'
const DISCOVERY_TIMEOUT_S = 10

export interface PendingLogin {
  codeVerifier: string
  nonce: string
  /** SHA-256 (hex) of the browser binding secret held in the cookie. */
  bindingHash: string
  /** Set when a signed-in user started this to link the identity to their account. */
  linkUserId?: string
  expiresAt: number
}

const sha256 = (value: string) => new Bun.CryptoHasher('sha256').update(value).digest('hex')
const randomSecret = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')

function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  if (x.length !== y.length) return false
  return timingSafeEqual(x, y)
}

/** Started sign-ins, keyed by state: in memory, expiring, capped. */
export function pendingLogins(opts: { ttlMs?: number; max?: number; now?: () => number } = {}) {
  const ttlMs = opts.ttlMs ?? PENDING_TTL_MS
  const max = opts.max ?? PENDING_MAX
  const now = opts.now ?? Date.now
  const map = new Map<string, PendingLogin>()

  function sweep() {
    const t = now()
    for (const [state, p] of map) if (p.expiresAt <= t) map.delete(state)
  }
  const timer = setInterval(sweep, 60_000)
  timer.unref?.()

  return {
    ttlMs,
    put(state: string, login: Omit<PendingLogin, 'expiresAt'>) {
      if (map.size >= max) sweep()
      // Still full: drop the oldest (Map keeps insertion order); its user simply starts again.
      while (map.size >= max) map.delete(map.keys().next().value!)
      map.set(state, { ...login, expiresAt: now() + ttlMs })
    },
    /** The live record (tests tamper with it); undefined when unknown or expired. */
    get(state: string): PendingLogin | undefined {
      const p = map.get(state)
      if (p && p.expiresAt <= now()) {
        map.delete(state)
        return undefined
      }
      return p
    },
    delete(state: string) {
      map.delete(state)
    },
    get size() {
      return map.size
    },
    close() {
      clearInterval(timer)
      map.clear()
    },
  }
}

export type PendingLogins = ReturnType<typeof pendingLogins>

/** `http://` is accepted only for a provider on this machine (tests, local development). */
export function isLoopbackHttp(url: string): boolean {
  const u = new URL(url)
  if (u.protocol !== 'http:') return false
  const host = u.hostname.replace(/^\[|\]$/g, '')
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host)
}

/** The cookie name for one sign-in, so two tabs signing in at once don't clobber each other. */
export function stateCookieName(state: string): string {
  return COOKIE_PREFIX + sha256(state).slice(0, 16)
}

function parseCookies(header: string | null | undefined): Map<string, string> {
  const out = new Map<string, string>()
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=')
    if (i < 0) continue
    const name = part.slice(0, i).trim()
    if (name && !out.has(name)) out.set(name, part.slice(i + 1).trim())
  }
  return out
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}

/** True for failures to reach the provider at all (refused, reset, DNS, timeout, 5xx). */
function isUnreachable(error: unknown): boolean {
  if (error instanceof client.ResponseBodyError || error instanceof client.WWWAuthenticateChallengeError) return error.status >= 500
  if (error instanceof client.ClientError) {
    const status = (error.cause as any)?.status
    return typeof status === 'number' && status >= 500
  }
  if (error instanceof client.AuthorizationResponseError) return false
  const name = (error as any)?.name
  const code = String((error as any)?.code ?? '')
  return (
    name === 'AbortError' ||
    name === 'TimeoutError' ||
    /ECONN|ConnectionRefused|ConnectionClosed|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|FailedToOpenSocket|UNABLE_TO|CERT|TLS/i.test(code) ||
    (error instanceof TypeError && /fetch|network|connect/i.test(error.message))
  )
}

/** The JWT claim a claim-comparison failure is about (openid-client wraps oauth4webapi's error). */
function failedClaim(error: unknown): string | undefined {
  for (let e: any = error, depth = 0; e && depth < 4; e = e.cause, depth++) {
    if (typeof e.claim === 'string') return e.claim
  }
  return undefined
}

const unavailable = () =>
  new OidcError(503, 'oidc_unavailable', 'the identity provider cannot be reached right now; try again in a moment')

function claimString(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined
}

function displayName(claims: Record<string, unknown>, email: string): string {
  const given = claimString(claims.given_name)
  const family = claimString(claims.family_name)
  const name =
    claimString(claims.name) ??
    (given || family ? [given, family].filter(Boolean).join(' ') : undefined) ??
    claimString(claims.preferred_username) ??
    claimString(claims.nickname) ??
    email.split('@')[0]
  return name.slice(0, 100)
}

const emailPattern = /^[^\s@]+@[^\s@]+$/

export interface OidcServiceDeps {
  config: OidcConfig
  users: Pick<UsersRepository, 'findByIdentity' | 'findByEmail' | 'findById' | 'create' | 'linkIdentity'>
  auth: Pick<AuthService, 'session' | 'signedIn'>
  allowSignup: boolean
  /** Replaces `fetch` for every request to the provider (tests). */
  fetch?: typeof fetch
}

export function oidcService(deps: OidcServiceDeps) {
  const { config, users, auth } = deps
  const pending = pendingLogins()
  const secureCookie = config.redirectUri.startsWith('https:')
  let discovered: Promise<client.Configuration> | undefined

  /** Discovery happens on first use and is cached; a failure is forgotten so the next call retries. */
  function configuration(): Promise<client.Configuration> {
    if (discovered) return discovered
    const attempt = (async () => {
      const issuer = new URL(config.issuer)
      const insecure = isLoopbackHttp(config.issuer)
      const options: client.DiscoveryRequestOptions = { timeout: DISCOVERY_TIMEOUT_S }
      if (insecure) options.execute = [client.allowInsecureRequests]
      if (deps.fetch) options[client.customFetch] = deps.fetch as any
      // Discover, then build the client with the authentication method the provider supports.
      const probe = await client.discovery(issuer, config.clientId, config.clientSecret, undefined, options)
      const methods = probe.serverMetadata().token_endpoint_auth_methods_supported
      // client_secret_basic is the spec's default; fall back to _post when only that is offered.
      const clientAuth =
        !methods || methods.includes('client_secret_basic') ? client.ClientSecretBasic(config.clientSecret) : client.ClientSecretPost(config.clientSecret)
      const metadata = probe.serverMetadata()
      const configured = new client.Configuration(metadata, config.clientId, { client_secret: config.clientSecret, redirect_uris: [config.redirectUri] }, clientAuth)
      if (insecure) client.allowInsecureRequests(configured)
      if (deps.fetch) configured[client.customFetch] = deps.fetch as any
      configured.timeout = DISCOVERY_TIMEOUT_S
      return configured
    })()
    discovered = attempt
    attempt.catch((error) => {
      if (discovered === attempt) discovered = undefined
      log.warn('oidc discovery failed', { issuer: config.issuer, error: errorText(error) })
    })
    return attempt
  }

  async function requireConfiguration(): Promise<client.Configuration> {
    try {
      return await configuration()
    } catch (error) {
      if (isUnreachable(error)) throw unavailable()
      // Reachable but not a usable OpenID provider (wrong issuer, bad metadata…): still "down" for users.
      throw new OidcError(503, 'oidc_unavailable', 'the identity provider is misconfigured or not answering as expected; an admin should check OIDC_ISSUER')
    }
  }

  function setCookie(name: string, value: string, maxAgeSeconds: number): string {
    return `${name}=${value}; Path=${COOKIE_PATH}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax${secureCookie ? '; Secure' : ''}`
  }

  /** Finds or creates the account of an identity (see docs/oidc.md "Linking rules"). */
  async function resolveUser(issuer: string, claims: Record<string, unknown>) {
    const subject = String(claims.sub)
    const known = await users.findByIdentity(issuer, subject)
    if (known) return known

    const rawEmail = claimString(claims.email)?.toLowerCase()
    const email = rawEmail && rawEmail.length <= 254 && emailPattern.test(rawEmail) ? rawEmail : undefined
    if (!email) {
      throw new OidcError(400, 'oidc_email_missing', 'the identity provider did not share an email address; allow the "email" scope for this application at the provider')
    }

    // Never linked automatically (even with a verified email): whoever registered the address
    // first would otherwise keep access to the SSO user's account. Linking is done from a
    // signed-in session of the account (POST /api/auth/oidc/link).
    const conflict = () =>
      new OidcError(
        409,
        'oidc_account_exists',
        'an account with this email already exists; sign in with your password, then link single sign-on from your account',
      )

    const existing = await users.findByEmail(email)
    if (existing) {
      throw conflict()
    } else {
      const created = await users.create({ email, name: displayName(claims, email) }, deps.allowSignup)
      if (created === 'closed') throw new OidcError(403, 'signup_closed', 'sign-up is closed on this server, and this identity has no account yet; ask an admin for an account')
      if (created === 'taken') {
        // Lost a race with a concurrent sign-in of the same identity, or with a registration.
        const raced = await users.findByIdentity(issuer, subject)
        if (raced) return raced
        throw conflict()
      }
      await users.linkIdentity(created.id, issuer, subject)
      log.info('oidc account created', { userId: created.id, issuer })
    }
    // Read back through the identity: if a concurrent sign-in linked first, both agree on its user.
    const linked = await users.findByIdentity(issuer, subject)
    if (!linked) throw new OidcError(409, 'oidc_account_exists', 'this identity could not be linked to an account; try again')
    return linked
  }

  /** Links the identity to the signed-in account that started the flow (docs/oidc.md "Linking"). */
  async function linkToAccount(userId: string, issuer: string, claims: Record<string, unknown>) {
    const subject = String(claims.sub)
    const verified = claims.email_verified === true || claims.email_verified === 'true'
    if (!verified) throw new OidcError(403, 'oidc_email_unverified', 'the identity provider has not verified this identity\'s email, so it cannot be linked; verify it at the provider and try again')
    const account = await users.findById(userId)
    if (!account || account.disabled) throw new OidcError(401, 'session_revoked', 'the account that started linking no longer exists or is disabled; sign in again')
    const known = await users.findByIdentity(issuer, subject)
    if (known && known.id !== userId) throw new OidcError(409, 'oidc_identity_in_use', 'this single sign-on identity already belongs to another account')
    if (!known) {
      await users.linkIdentity(userId, issuer, subject)
      log.info('oidc identity linked from a signed-in session', { userId, issuer })
    }
    const linked = await users.findByIdentity(issuer, subject)
    if (linked?.id !== userId) throw new OidcError(409, 'oidc_identity_in_use', 'this single sign-on identity already belongs to another account')
    return linked
  }

  return {
    pending,
    cookieName: stateCookieName,

    /**
     * The provider's authorization URL for a new sign-in, and the Set-Cookie binding it to this
     * browser. With `linkUserId` (a signed-in user) the identity is linked to that account instead.
     */
    async loginUrl(linkUserId?: string): Promise<{ url: string; state: string; setCookie: string }> {
      const configured = await requireConfiguration()
      const codeVerifier = client.randomPKCECodeVerifier()
      const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier)
      const state = client.randomState()
      const nonce = client.randomNonce()
      const binding = randomSecret()
      const url = client.buildAuthorizationUrl(configured, {
        redirect_uri: config.redirectUri,
        scope: SCOPE,
        response_type: 'code',
        code_challenge: codeChallenge,
        code_challenge_method: 'S256',
        state,
        nonce,
      })
      pending.put(state, { codeVerifier, nonce, bindingHash: sha256(binding), ...(linkUserId && { linkUserId }) })
      return { url: url.href, state, setCookie: setCookie(stateCookieName(state), binding, Math.floor(pending.ttlMs / 1000)) }
    },

    /**
     * Completes a sign-in from the provider's redirect. `url` is the callback URL as received
     * (only its query is used), `cookieHeader` the request's Cookie header. Always returns the
     * Set-Cookie that clears the binding cookie, alongside the session or the error.
     */
    async callback(url: URL, cookieHeader: string | null): Promise<{ session: Session; clearCookie?: string }> {
      const params = url.searchParams
      const state = params.get('state') ?? ''
      const record = state ? pending.get(state) : undefined
      const cookieName = state ? stateCookieName(state) : ''
      const binding = state ? parseCookies(cookieHeader).get(cookieName) : undefined
      const bound = !!record && !!binding && constantTimeEqual(sha256(binding), record.bindingHash)
      if (record && bound) pending.delete(state) // single use, whatever happens next
      const clearCookie = state && binding ? setCookie(cookieName, '', 0) : undefined
      const fail = (error: OidcError) => {
        error.clearCookie ??= clearCookie
        return error
      }

      const providerError = params.get('error')
      if (providerError) {
        // error_description is logged, never shown: anyone can craft this URL, so echoing free
        // text from it would let them put their words on our page.
        log.info('oidc provider returned an error', { oauthError: providerError.slice(0, 64), description: params.get('error_description')?.slice(0, 300) })
        if (providerError === 'access_denied') {
          throw fail(new OidcError(401, 'oidc_access_denied', 'sign-in was cancelled or access was denied at the identity provider'))
        }
        const safeCode = providerError.replace(/[^a-z0-9_]/gi, '').slice(0, 64) || 'unknown_error'
        throw fail(new OidcError(400, 'oidc_provider_error', `the identity provider refused the sign-in (${safeCode}); try again, or ask an admin to check the server log`))
      }
      if (!state) throw fail(new OidcError(400, 'oidc_invalid_state', 'the sign-in response has no state; start the sign-in again'))
      if (!record) throw fail(new OidcError(400, 'oidc_invalid_state', 'this sign-in link is unknown, expired or already used; start the sign-in again'))
      if (!binding) {
        throw fail(new OidcError(400, 'oidc_browser_mismatch', 'this sign-in was not started in this browser (or its cookie expired); start the sign-in again from this browser'))
      }
      if (!bound) throw fail(new OidcError(400, 'oidc_browser_mismatch', 'this sign-in was started in another browser; start the sign-in again from this browser'))
      if (!params.get('code')) throw fail(new OidcError(400, 'oidc_invalid_response', 'the identity provider returned no authorization code; start the sign-in again'))

      const configured = await requireConfiguration().catch((error) => {
        throw fail(error)
      })
      // The redirect URI sent to the token endpoint must be the registered one, whatever host or
      // proxy the request came through; only the provider's query parameters are taken from it.
      const currentUrl = new URL(config.redirectUri)
      currentUrl.search = url.search
      let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>
      try {
        tokens = await client.authorizationCodeGrant(configured, currentUrl, {
          pkceCodeVerifier: record.codeVerifier,
          expectedState: state,
          expectedNonce: record.nonce,
          idTokenExpected: true,
        })
      } catch (error) {
        log.warn('oidc code exchange failed', { error: errorText(error), code: (error as any)?.code, oauthError: (error as any)?.error })
        if (isUnreachable(error)) throw fail(unavailable())
        if ((error as any)?.code === 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' && failedClaim(error) === 'nonce') {
          throw fail(new OidcError(401, 'oidc_nonce_mismatch', 'the identity provider answered for a different sign-in (nonce mismatch); start the sign-in again'))
        }
        if (error instanceof client.ResponseBodyError || error instanceof client.WWWAuthenticateChallengeError) {
          throw fail(new OidcError(401, 'oidc_code_exchange_failed', 'the identity provider did not accept the sign-in code (it may be expired or already used); start the sign-in again'))
        }
        throw fail(new OidcError(401, 'oidc_invalid_response', 'the identity provider\'s answer could not be verified; start the sign-in again'))
      }

      const idClaims = tokens.claims()
      if (!idClaims) throw fail(new OidcError(401, 'oidc_invalid_response', 'the identity provider returned no ID token'))
      let claims: Record<string, unknown> = { ...idClaims }
      if (!claimString(claims.email)) {
        // Some providers (and oidc-provider by default) put profile claims only in userinfo.
        try {
          const info = await client.fetchUserInfo(configured, tokens.access_token, idClaims.sub)
          claims = { ...info, ...claims, email: info.email, email_verified: info.email_verified }
        } catch (error) {
          log.warn('oidc userinfo failed', { error: errorText(error) })
        }
      }

      try {
        const user = record.linkUserId ? await linkToAccount(record.linkUserId, idClaims.iss, claims) : await resolveUser(idClaims.iss, claims)
        if (user.disabled) throw new OidcError(403, 'account_disabled', 'this account is disabled; ask an admin')
        await auth.signedIn(user.id)
        return { session: await auth.session(userView(user)), clearCookie }
      } catch (error) {
        if (error instanceof OidcError) throw fail(error)
        throw error
      }
    },

    close() {
      pending.close()
    },
  }
}

export type OidcService = ReturnType<typeof oidcService>
