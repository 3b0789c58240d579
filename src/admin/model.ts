import { t } from 'elysia'
import { newPasswordField } from '../auth/model'
import { pageQuery } from '../http/keyset-page'
import { day } from '../usage/model'

const email = t.String({ format: 'email', maxLength: 254, error: 'email must be a valid email address' })
const role = t.Union([t.Literal('admin'), t.Literal('member')], { error: 'role must be admin or member' })
const perDay = t.Integer({ minimum: 0, maximum: 1e12, error: 'a quota is a whole number ≥ 0 (0 = no limit)' })

export const createUserBody = t.Object({
  email,
  password: newPasswordField(),
  name: t.Optional(t.String({ maxLength: 100 })),
  role: t.Optional(role),
})

export const updateUserBody = t.Object(
  {
    role: t.Optional(role),
    disabled: t.Optional(t.Boolean({ error: 'disabled must be true or false' })),
    quota: t.Optional(
      t.Union([
        t.Null(),
        t.Object({ runsPerDay: t.Optional(perDay), tokensPerDay: t.Optional(perDay) }, { additionalProperties: false }),
      ]),
    ),
  },
  { additionalProperties: false, error: 'the body takes role, disabled and quota only' },
)

export const userIdParams = t.Object({ id: t.String({ minLength: 1, maxLength: 100 }) })

export const usersQuery = t.Object(pageQuery)

export const auditQuery = t.Object({
  ...pageQuery,
  actorId: t.Optional(t.String({ maxLength: 100 })),
  action: t.Optional(t.String({ maxLength: 50, pattern: '^[a-z_]+$' })),
})

export const adminUsageQuery = t.Object({
  ...pageQuery,
  from: t.Optional(day),
  to: t.Optional(day),
  userId: t.Optional(t.String({ maxLength: 100 })),
})
