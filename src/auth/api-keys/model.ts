import { t } from 'elysia'
import { boundedText, idParams } from '../../http/route-schemas'

export const KEY_NAME_MAX = 100
export const KEY_EXPIRY_MAX_DAYS = 3650

export const createKeyBody = t.Object({
  // Not blank: a name of spaces would tell keys apart no better than none.
  name: boundedText('name', KEY_NAME_MAX, { pattern: '\\S' }),
  expiresInDays: t.Optional(
    t.Integer({
      minimum: 1,
      maximum: KEY_EXPIRY_MAX_DAYS,
      error: `expiresInDays must be a whole number from 1 to ${KEY_EXPIRY_MAX_DAYS}`,
    }),
  ),
})

/** PROTOCOL.md §5 list paging. */
export const listKeysQuery = t.Object({
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 200, error: 'limit must be a whole number from 1 to 200' })),
  cursor: t.Optional(t.String({ maxLength: 200, error: 'cursor is not valid' })),
})

export const keyParams = idParams
