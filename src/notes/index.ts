import { Elysia } from 'elysia'
import type { AuthGuard } from '../auth/guard'
import type { NotesService } from './service'
import { createNoteBody } from './model'
import { collectionRoutes } from '../auth/collection-routes'

/** /api/notes (PROTOCOL.md §2): the same notes the note tools read and write. */
export function noteRoutes(notes: NotesService, guard: AuthGuard) {
  return new Elysia({ name: 'note-routes' }).use(
    collectionRoutes(guard, {
      path: '/api/notes',
      list: { plural: 'notes', page: (query) => notes.page(query) },
      create: { singular: 'note', body: createNoteBody, create: (body) => notes.create(body) },
      remove: (id) => notes.remove(id),
    }),
  )
}
