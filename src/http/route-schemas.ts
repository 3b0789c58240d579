import { t } from 'elysia'

/** Schemas that many routes share, with the error messages clients see. */

/** `/:id` of a user's resource: our ids, or anything short enough to look up and miss (404). */
export const idParams = t.Object({ id: t.String({ minLength: 1, maxLength: 64 }) })

/** A required text field (a name, a title) of 1 to `max` characters. */
export const boundedText = (field: string, max: number, opts: { pattern?: string } = {}) =>
  t.String({ minLength: 1, maxLength: max, ...opts, error: `${field} must be 1 to ${max} characters` })
