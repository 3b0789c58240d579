import { t } from 'elysia'
import { idParams } from '../http/route-schemas'

export const documentParams = idParams

/** §5 paging: `limit` 1–200 (default 50), `cursor` opaque. */
export const listDocumentsQuery = t.Object({
  limit: t.Optional(
    t.Numeric({ minimum: 1, maximum: 200, multipleOf: 1, error: 'limit must be a whole number from 1 to 200' }),
  ),
  cursor: t.Optional(t.String({ maxLength: 500 })),
})

export const DEFAULT_LIST_LIMIT = 50
