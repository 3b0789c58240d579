import { t } from 'elysia'
import { pageQuery } from '../http/page-query'

export const shareParams = t.Object({ id: t.String({ minLength: 1, maxLength: 64 }) })
export const shareListQuery = t.Object(pageQuery)
