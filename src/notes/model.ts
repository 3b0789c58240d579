import { t } from 'elysia'
import { NOTE_BODY_MAX, NOTE_TITLE_MAX } from './service'
import { boundedText, idParams } from '../http/route-schemas'

export const noteParams = idParams
export const createNoteBody = t.Object({
  title: boundedText('title', NOTE_TITLE_MAX),
  body: t.String({ maxLength: NOTE_BODY_MAX, error: `body must be a string of at most ${NOTE_BODY_MAX} characters` }),
})
