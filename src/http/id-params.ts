import { t } from 'elysia'

/** `/:id` of a user's resource: our ids, or anything short enough to look up and miss (404). */
export const idParams = t.Object({ id: t.String({ minLength: 1, maxLength: 64 }) })
