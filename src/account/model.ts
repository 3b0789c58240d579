import { t } from 'elysia'
import { newPasswordField } from '../auth/model'

export const changePasswordBody = t.Object({
  currentPassword: t.String({ minLength: 1, maxLength: 256 }),
  newPassword: newPasswordField('newPassword'),
  /** Optional: the refresh token of the session that stays signed in. */
  refreshToken: t.Optional(t.String({ maxLength: 512 })),
})

/** Optional as a whole: an account without a password deletes with a fresh token alone. */
export const deleteAccountBody = t.Optional(
  t.Object({
    password: t.Optional(t.String({ maxLength: 256 })),
  }),
)
