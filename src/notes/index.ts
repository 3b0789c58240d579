import { Elysia, t } from 'elysia'
import type { AuthGuard } from '../auth/guard'
import type { NotesService } from './service'
import { createNoteBody, noteParams } from './model'
import { pageQuery } from '../http/page-query'
import { created, deleteById, namedPage } from '../http/answers'

/** /api/notes (PROTOCOL.md §2): the same notes the note tools read and write. */
export function noteRoutes(notes: NotesService, guard: AuthGuard) {
  return new Elysia({ name: 'note-routes' })
    .use(guard)
    .get('/api/notes', async ({ query }) => namedPage('notes', await notes.page(query)), {
      auth: true,
      query: t.Object(pageQuery),
    })
    .post('/api/notes', async ({ body, set }) => created(set, { note: await notes.create(body) }), {
      auth: true,
      body: createNoteBody,
    })
    .delete(
      '/api/notes/:id',
      deleteById((id) => notes.remove(id)),
      { auth: true, params: noteParams },
    )
}
