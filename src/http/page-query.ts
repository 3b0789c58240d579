import { t } from 'elysia'

/** `?limit=&cursor=` of every list (PROTOCOL.md §5); the values are checked by src/db/paging.ts. */
export const pageQuery = {
  limit: t.Optional(t.String()),
  cursor: t.Optional(t.String({ maxLength: 1000 })),
}
