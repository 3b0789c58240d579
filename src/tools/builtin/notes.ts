import { Type } from '@sinclair/typebox'
import type { NotesService } from '../../notes/service'
import { NOTE_BODY_MAX, NOTE_SEARCH_DEFAULT, NOTE_SEARCH_MAX, NOTE_TITLE_MAX } from '../../notes/service'
import { defineTool } from './define'
import { defineSearchTool } from './search-tool'

export function saveNoteTool(notes: NotesService) {
  return defineTool({
    name: 'save_note',
    description:
      "Save a note for the user (a reminder, a plan, a fact to remember). Returns the new note's id and title.",
    parameters: Type.Object({
      title: Type.String({ minLength: 1, maxLength: NOTE_TITLE_MAX, description: 'a short title' }),
      body: Type.String({ maxLength: NOTE_BODY_MAX, description: 'the note text' }),
    }),
    // Idempotent by the call's id: run again after a crash, it returns the note it saved.
    async execute({ title, body }, { toolCallId }) {
      const note = await notes.create({ title, body, toolCallId })
      return { id: note.id, title: note.title }
    },
  })
}

export function searchNotesTool(notes: NotesService) {
  return defineSearchTool({
    name: 'search_notes',
    description:
      "Search the user's saved notes by words in their title or text. Returns the best matches with a snippet. An empty query lists the newest notes.",
    query: { description: 'words to look for', allowEmpty: true },
    results: 'notes',
    defaultLimit: NOTE_SEARCH_DEFAULT,
    maxLimit: NOTE_SEARCH_MAX,
    search: (query, limit) => notes.search(query, limit),
  })
}
