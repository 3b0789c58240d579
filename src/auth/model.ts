import { t } from 'elysia'
import { MAX_PASSWORD_LENGTH } from './password-policy'

const email = t.String({ format: 'email', maxLength: 254, error: 'email must be a valid email address' })

/**
 * A password being set (registration, change, admin creation). Only its type and upper bound are
 * checked here: a short one is a weak one, and the password policy refuses it with 400
 * `weak_password` saying why, like any other weak password.
 */
export const newPasswordField = (field = 'password') =>
  t.String({
    maxLength: MAX_PASSWORD_LENGTH,
    error: `${field} must be a string of at most ${MAX_PASSWORD_LENGTH} characters`,
  })

export const registerBody = t.Object({
  email,
  password: newPasswordField(),
  name: t.Optional(t.String({ maxLength: 100 })),
})

export const loginBody = t.Object({
  email,
  password: t.String({ minLength: 1, maxLength: 256 }),
})

export const refreshBody = t.Object({
  refreshToken: t.String({ minLength: 1, maxLength: 512 }),
})
