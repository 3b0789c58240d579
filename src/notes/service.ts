import type { NoteHit, NoteView, NotesRepository } from '../db/repositories/notes'
import { InvalidInputError } from '../http/errors'
import { pageRequest } from '../db/paging'

export const NOTE_TITLE_MAX = 200
export const NOTE_BODY_MAX = 20_000
export const NOTE_SEARCH_DEFAULT = 5
export const NOTE_SEARCH_MAX = 50

/** The user's notes: one place for their rules, used by the routes and the note tools. */
export function notesService(notes: NotesRepository) {
  return {
    list: (): Promise<NoteView[]> => notes.list(),

    /** `?limit=&cursor=` (PROTOCOL.md §5). */
    page: (query: { limit?: string; cursor?: string } = {}) => notes.page(pageRequest(query, 2)),

    /** `toolCallId` (save_note) makes a repeated call return the note already saved. */
    async create(input: { title: string; body: string; toolCallId?: string }): Promise<NoteView> {
      const title = input.title?.trim() ?? ''
      const body = input.body?.trim() ?? ''
      if (!title) throw new InvalidInputError('a note needs a title')
      if (title.length > NOTE_TITLE_MAX)
        throw new InvalidInputError(`a note title is at most ${NOTE_TITLE_MAX} characters`)
      if (body.length > NOTE_BODY_MAX) throw new InvalidInputError(`a note body is at most ${NOTE_BODY_MAX} characters`)
      return notes.create({ title, body, toolCallId: input.toolCallId })
    },

    remove: (id: string): Promise<void> => notes.remove(id),

    /** Best matches first; text without words lists the newest notes. */
    search(query: string, limit = NOTE_SEARCH_DEFAULT): Promise<NoteHit[]> {
      const n = Math.min(Math.max(1, Math.floor(limit) || NOTE_SEARCH_DEFAULT), NOTE_SEARCH_MAX)
      return notes.search(query ?? '', n)
    },
  }
}

export type NotesService = ReturnType<typeof notesService>
