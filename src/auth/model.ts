import { t } from 'elysia'

const email = t.String({ format: 'email', maxLength: 254, error: 'email must be a valid email address' })

export const registerBody = t.Object({
  email,
  password: t.String({ minLength: 8, maxLength: 256, error: 'password must be 8 to 256 characters' }),
  name: t.Optional(t.String({ maxLength: 100 })),
})

export const loginBody = t.Object({
  email,
  password: t.String({ minLength: 1, maxLength: 256 }),
})

export const refreshBody = t.Object({
  refreshToken: t.String({ minLength: 1, maxLength: 512 }),
})
