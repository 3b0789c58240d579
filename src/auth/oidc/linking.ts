import type { UsersRepository } from '../../db/repositories/users'
import { log } from '../../log'
import { OidcError } from './errors'

/**
 * Which account an identity signs in to (docs/oidc.md "Linking rules"): its linked account, or a
 * new one; never an existing account by email alone. Linking to an existing account is done
 * only from a signed-in session of it.
 */

/** A non-empty trimmed string claim, or undefined. */
export function claimString(value: unknown): string | undefined {
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

export type LinkingUsers = Pick<
  UsersRepository,
  'findByIdentity' | 'findByEmail' | 'findById' | 'create' | 'linkIdentity'
>

export function accountLinking(users: LinkingUsers, allowSignup: boolean) {
  /** Finds or creates the account of an identity (see docs/oidc.md "Linking rules"). */
  async function resolveUser(issuer: string, claims: Record<string, unknown>) {
    const subject = String(claims.sub)
    const known = await users.findByIdentity(issuer, subject)
    if (known) return known

    const rawEmail = claimString(claims.email)?.toLowerCase()
    const email = rawEmail && rawEmail.length <= 254 && emailPattern.test(rawEmail) ? rawEmail : undefined
    if (!email) {
      throw new OidcError(
        400,
        'oidc_email_missing',
        'the identity provider did not share an email address; allow the "email" scope for this application at the provider',
      )
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
      const created = await users.create({ email, name: displayName(claims, email) }, allowSignup)
      if (created === 'closed')
        throw new OidcError(
          403,
          'signup_closed',
          'sign-up is closed on this server, and this identity has no account yet; ask an admin for an account',
        )
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
    if (!linked)
      throw new OidcError(409, 'oidc_account_exists', 'this identity could not be linked to an account; try again')
    return linked
  }

  /** Links the identity to the signed-in account that started the flow (docs/oidc.md "Linking"). */
  async function linkToAccount(userId: string, issuer: string, claims: Record<string, unknown>) {
    const subject = String(claims.sub)
    const verified = claims.email_verified === true || claims.email_verified === 'true'
    if (!verified)
      throw new OidcError(
        403,
        'oidc_email_unverified',
        "the identity provider has not verified this identity's email, so it cannot be linked; verify it at the provider and try again",
      )
    const account = await users.findById(userId)
    if (!account || account.disabled)
      throw new OidcError(
        401,
        'session_revoked',
        'the account that started linking no longer exists or is disabled; sign in again',
      )
    const known = await users.findByIdentity(issuer, subject)
    if (known && known.id !== userId)
      throw new OidcError(
        409,
        'oidc_identity_in_use',
        'this single sign-on identity already belongs to another account',
      )
    if (!known) {
      await users.linkIdentity(userId, issuer, subject)
      log.info('oidc identity linked from a signed-in session', { userId, issuer })
    }
    const linked = await users.findByIdentity(issuer, subject)
    if (linked?.id !== userId)
      throw new OidcError(
        409,
        'oidc_identity_in_use',
        'this single sign-on identity already belongs to another account',
      )
    return linked
  }

  return { resolveUser, linkToAccount }
}
