import { t } from 'elysia'
import { pageQuery } from '../http/page-query'
import { boundedText, idParams } from '../http/route-schemas'

export const threadParams = idParams
export const createThreadBody = t.Optional(t.Object({ title: t.Optional(t.String({ maxLength: 200 })) }))
/** At least one of the fields; a title is 1–200 characters. */
export const updateThreadBody = t.Object(
  {
    title: t.Optional(boundedText('title', 200)),
    pinned: t.Optional(t.Boolean({ error: 'pinned must be true or false' })),
    archived: t.Optional(t.Boolean({ error: 'archived must be true or false' })),
  },
  { minProperties: 1, error: 'send title, pinned or archived' },
)
export const threadListQuery = t.Object({
  ...pageQuery,
  archived: t.Optional(t.Union([t.Literal('true'), t.Literal('false')])),
})
export const exportQuery = t.Object({
  format: t.Optional(t.Union([t.Literal('json'), t.Literal('markdown')], { error: 'format is json or markdown' })),
})
export const messageListQuery = t.Object({
  ...pageQuery,
  leaf: t.Optional(t.String({ minLength: 1, maxLength: 64 })),
  /** `latest`: continue the branch below `leaf` to its newest message (a client switching branches). */
  follow: t.Optional(t.Literal('latest', { error: 'follow is "latest" or absent' })),
})
