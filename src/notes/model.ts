import { t } from 'elysia'
import { NOTE_BODY_MAX, NOTE_TITLE_MAX } from './service'
import { idParams } from '../http/id-params'

export const noteParams = idParams
export const createNoteBody = t.Object({
  title: t.String({
    minLength: 1,
    maxLength: NOTE_TITLE_MAX,
    error: `title must be 1 to ${NOTE_TITLE_MAX} characters`,
  }),
  body: t.String({ maxLength: NOTE_BODY_MAX, error: `body must be a string of at most ${NOTE_BODY_MAX} characters` }),
})
