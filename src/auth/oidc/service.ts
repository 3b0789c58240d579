import { timingSafeEqual } from 'node:crypto'
import * as client from 'openid-client'
import type { Config } from '../../config'
import { userView } from '../../db/repositories/users'
import { log } from '../../log'
import type { AuthService, Session } from '../service'
import { OidcError, errorText, failedClaim, isUnreachable, unavailable } from './errors'
import { accountLinking, claimString, type LinkingUsers } from './linking'
import { pendingLogins } from './pending'

// Pending logins (./pending.ts), errors (./errors.ts) and account linking (./linking.ts) have
// files of their own; re-exported for older imports.
export { OidcError } from './errors'
export { PENDING_MAX, PENDING_TTL_MS, pendingLogins, type PendingLogin, type PendingLogins } from './pending'

/**
 * OpenID Connect sign-in (authorization code + PKCE S256 + state + nonce), knowing nothing of
 * HTTP beyond URLs and cookie headers. The code verifier and nonce never leave this process:
 * the browser only carries the `state` (in the URL) and a random binding secret (in a
 * short-lived HttpOnly cookie) that proves the callback comes back to the browser that started it.
 */

export type OidcConfig = NonNullable<Config['oidc']>

const SCOPE = 'openid email profile'
const COOKIE_PREFIX = 'chat_oidc_'
const COOKIE_PATH = '/api/auth/oidc'
const DISCOVERY_TIMEOUT_S = 10

const sha256 = (value: string) => new Bun.CryptoHasher('sha256').update(value).digest('hex')
const randomSecret = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')

function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  if (x.length !== y.length) return false
  return timingSafeEqual(x, y)
}

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

export interface OidcServiceDeps {
  config: OidcConfig
  users: LinkingUsers
  auth: Pick<AuthService, 'session' | 'signedIn'>
  allowSignup: boolean
  /** Replaces `fetch` for every request to the provider (tests). */
  fetch?: typeof fetch
}

export function oidcService(deps: OidcServiceDeps) {
  const { config, users, auth } = deps
  const { resolveUser, linkToAccount } = accountLinking(users, deps.allowSignup)
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
        !methods || methods.includes('client_secret_basic')
          ? client.ClientSecretBasic(config.clientSecret)
          : client.ClientSecretPost(config.clientSecret)
      const metadata = probe.serverMetadata()
      const configured = new client.Configuration(
        metadata,
        config.clientId,
        { client_secret: config.clientSecret, redirect_uris: [config.redirectUri] },
        clientAuth,
      )
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
      throw new OidcError(
        503,
        'oidc_unavailable',
        'the identity provider is misconfigured or not answering as expected; an admin should check OIDC_ISSUER',
      )
    }
  }

  function setCookie(name: string, value: string, maxAgeSeconds: number): string {
    return `${name}=${value}; Path=${COOKIE_PATH}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax${secureCookie ? '; Secure' : ''}`
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
      return {
        url: url.href,
        state,
        setCookie: setCookie(stateCookieName(state), binding, Math.floor(pending.ttlMs / 1000)),
      }
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
        log.info('oidc provider returned an error', {
          oauthError: providerError.slice(0, 64),
          description: params.get('error_description')?.slice(0, 300),
        })
        if (providerError === 'access_denied') {
          throw fail(
            new OidcError(
              401,
              'oidc_access_denied',
              'sign-in was cancelled or access was denied at the identity provider',
            ),
          )
        }
        const safeCode = providerError.replace(/[^a-z0-9_]/gi, '').slice(0, 64) || 'unknown_error'
        throw fail(
          new OidcError(
            400,
            'oidc_provider_error',
            `the identity provider refused the sign-in (${safeCode}); try again, or ask an admin to check the server log`,
          ),
        )
      }
      if (!state)
        throw fail(
          new OidcError(400, 'oidc_invalid_state', 'the sign-in response has no state; start the sign-in again'),
        )
      if (!record)
        throw fail(
          new OidcError(
            400,
            'oidc_invalid_state',
            'this sign-in link is unknown, expired or already used; start the sign-in again',
          ),
        )
      if (!binding) {
        throw fail(
          new OidcError(
            400,
            'oidc_browser_mismatch',
            'this sign-in was not started in this browser (or its cookie expired); start the sign-in again from this browser',
          ),
        )
      }
      if (!bound)
        throw fail(
          new OidcError(
            400,
            'oidc_browser_mismatch',
            'this sign-in was started in another browser; start the sign-in again from this browser',
          ),
        )
      if (!params.get('code'))
        throw fail(
          new OidcError(
            400,
            'oidc_invalid_response',
            'the identity provider returned no authorization code; start the sign-in again',
          ),
        )

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
        log.warn('oidc code exchange failed', {
          error: errorText(error),
          code: (error as any)?.code,
          oauthError: (error as any)?.error,
        })
        if (isUnreachable(error)) throw fail(unavailable())
        if ((error as any)?.code === 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' && failedClaim(error) === 'nonce') {
          throw fail(
            new OidcError(
              401,
              'oidc_nonce_mismatch',
              'the identity provider answered for a different sign-in (nonce mismatch); start the sign-in again',
            ),
          )
        }
        if (error instanceof client.ResponseBodyError || error instanceof client.WWWAuthenticateChallengeError) {
          throw fail(
            new OidcError(
              401,
              'oidc_code_exchange_failed',
              'the identity provider did not accept the sign-in code (it may be expired or already used); start the sign-in again',
            ),
          )
        }
        throw fail(
          new OidcError(
            401,
            'oidc_invalid_response',
            "the identity provider's answer could not be verified; start the sign-in again",
          ),
        )
      }

      const idClaims = tokens.claims()
      if (!idClaims)
        throw fail(new OidcError(401, 'oidc_invalid_response', 'the identity provider returned no ID token'))
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
        const user = record.linkUserId
          ? await linkToAccount(record.linkUserId, idClaims.iss, claims)
          : await resolveUser(idClaims.iss, claims)
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
