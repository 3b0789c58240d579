import { t } from 'elysia'

export const threadParams = t.Object({ id: t.String({ minLength: 1, maxLength: 64 }) })
export const createThreadBody = t.Optional(t.Object({ title: t.Optional(t.String({ maxLength: 200 })) }))
export const renameThreadBody = t.Object({ title: t.String({ minLength: 1, maxLength: 200, error: 'title must be 1 to 200 characters' }) })
