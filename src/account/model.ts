import { t } from 'elysia'

export const changePasswordBody = t.Object({
  currentPassword: t.String({ minLength: 1, maxLength: 256 }),
  newPassword: t.String({ minLength: 8, maxLength: 256, error: 'newPassword must be 8 to 256 characters' }),
  /** Optional: the refresh token of the session that stays signed in. */
  refreshToken: t.Optional(t.String({ maxLength: 512 })),
})

/** Optional as a whole: an account without a password deletes with a fresh token alone. */
export const deleteAccountBody = t.Optional(
  t.Object({
    password: t.Optional(t.String({ maxLength: 256 })),
  }),
)
