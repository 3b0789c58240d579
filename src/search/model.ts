import { t } from 'elysia'
import { pageQuery } from '../http/page-query'

export const searchQueryParams = t.Object({
  ...pageQuery,
  q: t.Optional(t.String({ maxLength: 500, error: 'q is at most 500 characters' })),
})
