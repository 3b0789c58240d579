import { SignJWT, UnsecuredJWT, type JWTPayload } from 'jose'

/** What a forged token is signed with and for; defaults come from the server's config. */
export interface TokenTarget {
  jwtSecret: string
  jwtIssuer: string
  jwtAudience: string
}

export interface ForgeOptions {
  /** `sub`; `null` leaves it out. Default: a random id. */
  sub?: string | null
  role?: string
  secret?: string
  issuer?: string
  audience?: string
  /** Unix seconds; default: one hour from now. */
  exp?: number
  iat?: number
  /** `null` leaves `jti` out. */
  jti?: string | null
  extra?: JWTPayload
}

const nowSeconds = () => Math.floor(Date.now() / 1000)

/**
 * Signs an access token the way an attacker or a buggy client could: any claims, any secret.
 * Use with `server.config` to forge tokens the test server would otherwise accept.
 */
export async function forgeAccessToken(target: TokenTarget, opts: ForgeOptions = {}): Promise<string> {
  const jwt = new SignJWT({ role: opts.role ?? 'member', ...opts.extra })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(opts.issuer ?? target.jwtIssuer)
    .setAudience(opts.audience ?? target.jwtAudience)
    .setIssuedAt(opts.iat ?? nowSeconds())
    .setExpirationTime(opts.exp ?? nowSeconds() + 3600)
  if (opts.sub !== null) jwt.setSubject(opts.sub ?? crypto.randomUUID())
  if (opts.jti !== null) jwt.setJti(opts.jti ?? crypto.randomUUID())
  return jwt.sign(new TextEncoder().encode(opts.secret ?? target.jwtSecret))
}

/** An `alg: none` token with otherwise valid claims for `target`. */
export function unsignedToken(target: TokenTarget, sub: string): string {
  return new UnsecuredJWT({ role: 'admin' })
    .setIssuer(target.jwtIssuer)
    .setAudience(target.jwtAudience)
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('1h')
    .setJti(crypto.randomUUID())
    .encode()
}

const b64url = (s: string) => Buffer.from(s).toString('base64url')

/** Keeps the header and signature of `token` but swaps in a payload changed by `edit`. */
export function tamperPayload(token: string, edit: (payload: Record<string, unknown>) => void): string {
  const [header, payload, signature] = token.split('.')
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
  edit(claims)
  return [header, b64url(JSON.stringify(claims)), signature].join('.')
}

/** Decodes a JWT's payload without verifying it. */
export function decodePayload(token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'))
}
