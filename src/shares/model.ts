import { t } from 'elysia'
import { pageQuery } from '../http/page-query'
import { idParams } from '../http/route-schemas'

export const shareParams = idParams
export const shareListQuery = t.Object(pageQuery)
