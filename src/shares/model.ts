import { t } from 'elysia'
import { pageQuery } from '../http/page-query'
import { idParams } from '../http/id-params'

export const shareParams = idParams
export const shareListQuery = t.Object(pageQuery)
