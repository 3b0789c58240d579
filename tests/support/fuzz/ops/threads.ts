/** /api/threads: list, create, get, rename, delete, messages — own and foreign ids. */
import { expectNotFound, expectStatus } from '../client'
import { FuzzFailure } from '../world'
import { listAll } from './list'
import { label, pickRef } from './pick'
import type { FuzzOp, FuzzUser, StepContext } from './types'
import { onRef } from './shapes'

const ref = (ctx: StepContext) => pickRef(ctx, ctx.target.threads.keys(), ctx.target.deletedThreads)

/**
 * Every listed thread is the actor's; every thread the model knows alive (and archived or not,
 * as the list is) is listed, with its title.
 */
export function checkThreadList(
  ctx: StepContext,
  user: FuzzUser,
  threads: { id: string; title: string; archived?: boolean }[],
  where: string,
  archived = false,
) {
  const listed = new Map(threads.map((t) => [t.id, t.title]))
  for (const t of threads) {
    const owner = ctx.world.ownerOf(t.id)
    if (owner?.owner !== user.index)
      throw new FuzzFailure(`${where}: user ${user.index} was shown thread ${t.id} of user ${owner?.owner}`)
    if (!!t.archived !== archived) throw new FuzzFailure(`${where}: thread ${t.id} has archived=${t.archived}`)
  }
  for (const [id, model] of user.threads) {
    if (!!model.archived !== archived) continue
    if (!listed.has(id))
      throw new FuzzFailure(
        `${where}: user ${user.index}'s thread ${id} is missing from their list (model ${JSON.stringify(model)}, listed ${listed.size})`,
      )
    if (model.title && listed.get(id) !== model.title)
      throw new FuzzFailure(`${where}: thread ${id} is titled "${listed.get(id)}", expected "${model.title}"`)
    model.title = listed.get(id)!
  }
}

export const threadOps: FuzzOp[] = [
  {
    name: 'threads.list',
    weight: 4,
    async run(ctx) {
      const archived = ctx.rand.bool(0.2)
      const { items, where } = await listAll(ctx, archived ? '/api/threads?archived=true' : '/api/threads', 'threads')
      checkThreadList(ctx, ctx.actor, items, where, archived)
      return archived ? 'own-archived' : 'own'
    },
  },
  {
    name: 'threads.create',
    weight: 3,
    async run(ctx) {
      const title = ctx.world.content(ctx.actor, 'thread')
      const answer = await ctx.http('POST', '/api/threads', { body: { title } })
      expectStatus(answer, 201)
      ctx.actor.threads.set(answer.json.thread.id, { title })
      return 'own'
    },
  },
  onRef(
    { name: 'threads.get', weight: 4, pick: ref, method: 'GET', path: (id) => `/api/threads/${id}`, status: 200 },
    (ctx, id, answer) => {
      const model = ctx.actor.threads.get(id)!
      if (answer.json.thread.id !== id || (model.title && answer.json.thread.title !== model.title))
        throw new FuzzFailure(`${answer.where}: not the thread the model expects (${model.title}): ${answer.text}`)
    },
  ),
  {
    name: 'threads.rename',
    weight: 3,
    async run(ctx) {
      const r = ref(ctx)
      const title = ctx.world.content(ctx.actor, 'renamed')
      const answer = await ctx.http('PATCH', `/api/threads/${r.id}`, { body: { title } })
      if (!r.mine) return (expectNotFound(answer), label(ctx, r))
      expectStatus(answer, 200)
      ctx.actor.threads.get(r.id)!.title = title
      return 'own'
    },
  },
  onRef(
    { name: 'threads.delete', weight: 2, pick: ref, method: 'DELETE', path: (id) => `/api/threads/${id}`, status: 204 },
    (ctx, id) => {
      ctx.actor.threads.delete(id)
      ctx.actor.deletedThreads.add(id)
      // Its runs (and their events) go with it.
      for (const run of ctx.actor.runs.values()) if (run.threadId === id) run.deleted = true
      // And its shares.
      for (const [shareId, share] of ctx.actor.shares)
        if (share.threadId === id) ctx.actor.shares.delete(shareId), ctx.actor.goneShares.add(shareId)
    },
  ),
  onRef(
    {
      name: 'threads.messages',
      weight: 4,
      pick: ref,
      method: 'GET',
      path: (id) => `/api/threads/${id}/messages`,
      status: 200,
    },
    (ctx, id, answer) => {
      for (const m of answer.json.messages) {
        if (m.runId && ctx.world.ownerOf(m.runId)?.owner !== ctx.actor.index)
          throw new FuzzFailure(`${answer.where}: message ${m.id} names run ${m.runId} of another user`)
      }
      ctx.world.seeMessages(
        ctx.actor,
        id,
        answer.json.messages.map((m: any) => m.id),
      )
    },
  ),
]
