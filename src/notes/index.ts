import { Elysia, t } from 'elysia'
import type { AuthGuard } from '../auth/guard'
import type { NotesService } from './service'
import { createNoteBody, noteParams } from './model'
import { pageQuery } from '../http/page-query'

/** /api/notes (PROTOCOL.md §2): the same notes the note tools read and write. */
export function noteRoutes(notes: NotesService, guard: AuthGuard) {
  return new Elysia({ name: 'note-routes' })
    .use(guard)
    .get(
      '/api/notes',
      async ({ query }) => {
        const page = await notes.page(query)
        return { notes: page.items, nextCursor: page.nextCursor }
      },
      { auth: true, query: t.Object(pageQuery) },
    )
    .post(
      '/api/notes',
      async ({ body, set }) => {
        const note = await notes.create(body)
        set.status = 201
        return { note }
      },
      { auth: true, body: createNoteBody },
    )
    .delete(
      '/api/notes/:id',
      async ({ params, set }) => {
        await notes.remove(params.id)
        set.status = 204
        return undefined
      },
      { auth: true, params: noteParams },
    )
}
