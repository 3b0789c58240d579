import { t } from 'elysia'

export const runParams = t.Object({ runId: t.String({ minLength: 1, maxLength: 64 }) })
export const eventsQuery = t.Object({
  after: t.Optional(t.Numeric({ minimum: 0, error: 'after must be a whole number ≥ 0' })),
})
