import * as client from 'openid-client'
import { AppError } from '../../http/errors'

/** An OIDC sign-in failure; `clearCookie` (a Set-Cookie value) removes the spent binding cookie. */
export class OidcError extends AppError {
  clearCookie?: string
}

export function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}

export /** True for failures to reach the provider at all (refused, reset, DNS, timeout, 5xx). */
function isUnreachable(error: unknown): boolean {
  if (error instanceof client.ResponseBodyError || error instanceof client.WWWAuthenticateChallengeError)
    return error.status >= 500
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
    /ECONN|ConnectionRefused|ConnectionClosed|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|FailedToOpenSocket|UNABLE_TO|CERT|TLS/i.test(
      code,
    ) ||
    (error instanceof TypeError && /fetch|network|connect/i.test(error.message))
  )
}

export /** The JWT claim a claim-comparison failure is about (openid-client wraps oauth4webapi's error). */
function failedClaim(error: unknown): string | undefined {
  for (let e: any = error, depth = 0; e && depth < 4; e = e.cause, depth++) {
    if (typeof e.claim === 'string') return e.claim
  }
  return undefined
}

export const unavailable = () =>
  new OidcError(503, 'oidc_unavailable', 'the identity provider cannot be reached right now; try again in a moment')
