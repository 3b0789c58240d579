import { t } from 'elysia'

/** A UTC day, YYYY-MM-DD (checked again as a real date by the service). */
export const day = t.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', error: 'dates are YYYY-MM-DD' })

export const usageQuery = t.Object({ from: t.Optional(day), to: t.Optional(day) })
