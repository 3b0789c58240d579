/** /api/notes: list, create, delete — own and foreign ids. */
import { expectStatus } from '../client'
import { FuzzFailure } from '../world'
import { listAll } from './list'
import type { FuzzOp } from './types'
import { deleteKept, type KeptOf } from './shapes'

const NOTES: KeptOf = (user) => user.notes

export const noteOps: FuzzOp[] = [
  {
    name: 'notes.list',
    weight: 3,
    async run(ctx) {
      const answer = await listAll(ctx, '/api/notes', 'notes')
      const listed = new Set<string>()
      for (const note of answer.items) {
        listed.add(note.id)
        // Notes saved by tools during runs are new to the model; the scan made them the actor's.
        if (ctx.world.ownerOf(note.id)?.owner !== ctx.actor.index)
          throw new FuzzFailure(`${answer.where}: note ${note.id} is not user ${ctx.actor.index}'s`)
        if (!note.title.includes(ctx.actor.marker))
          throw new FuzzFailure(
            `${answer.where}: note ${note.id} "${note.title}" was not written by user ${ctx.actor.index}`,
          )
      }
      for (const id of ctx.actor.notes.live.keys())
        if (!listed.has(id)) throw new FuzzFailure(`${answer.where}: user ${ctx.actor.index}'s note ${id} is missing`)
      return 'own'
    },
  },
  {
    name: 'notes.create',
    weight: 3,
    async run(ctx) {
      const title = ctx.world.content(ctx.actor, 'note')
      const answer = await ctx.http('POST', '/api/notes', {
        body: { title, body: ctx.world.content(ctx.actor, 'note body') },
      })
      expectStatus(answer, 201)
      ctx.actor.notes.live.set(answer.json.note.id, { title })
      return 'own'
    },
  },
  deleteKept('notes.delete', 2, NOTES, (id) => `/api/notes/${id}`),
]
