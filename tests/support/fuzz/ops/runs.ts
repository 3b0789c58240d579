/** /api/runs/:runId and its events (the HTTP fallback) — own and foreign run ids. */
import { expectNotFound, expectStatus } from '../client'
import { FuzzFailure } from '../world'
import { label, pickRef } from './pick'
import { onRef } from './shapes'
import type { FuzzOp, StepContext } from './types'

const ref = (ctx: StepContext) => {
  const runs = [...ctx.target.runs]
  return pickRef(
    ctx,
    runs.filter(([, r]) => !r.deleted).map(([id]) => id),
    runs.filter(([, r]) => r.deleted).map(([id]) => id),
  )
}

export const runOps: FuzzOp[] = [
  onRef(
    { name: 'runs.get', weight: 3, pick: ref, method: 'GET', path: (id) => `/api/runs/${id}`, status: 200 },
    (ctx, id, answer) => {
      const model = ctx.actor.runs.get(id)!
      if (answer.json.run.id !== id || answer.json.run.threadId !== model.threadId)
        throw new FuzzFailure(`${answer.where}: not the run the model expects: ${answer.text}`)
    },
  ),
  {
    name: 'runs.events',
    weight: 3,
    async run(ctx) {
      const r = ref(ctx)
      const after = ctx.rand.pick([0, 0, 1, 3, 1000])!
      const answer = await ctx.http('GET', `/api/runs/${r.id}/events?after=${after}`)
      // A run of a deleted thread is gone at once, even while its journal is still in memory.
      if (!r.mine) return (expectNotFound(answer), label(ctx, r))
      expectStatus(answer, 200)
      for (const event of answer.json.events) {
        if (event.runId !== r.id || !(event.seq > after))
          throw new FuzzFailure(
            `${answer.where}: event ${JSON.stringify(event).slice(0, 200)} is not of this run after ${after}`,
          )
      }
      return 'own'
    },
  },
]
