/**
 * Conversation features: pin and archive, the message tree (`?leaf=`, `chat` with `parentId`,
 * `regenerate`), search, export and import — own ids, and other users' thread and message ids.
 */
import { expectNotFound, expectStatus } from '../client'
import { FuzzFailure } from '../world'
import { sendFrame } from './chat'
import { label, ownOrForeignWord, pickRef } from './pick'
import type { FuzzOp, StepContext } from './types'

const threadRef = (ctx: StepContext) => pickRef(ctx, ctx.target.threads.keys(), ctx.target.deletedThreads)

/** A message id: one the target has seen (mine only when its thread is still the actor's), or a made-up one. */
function messageRef(ctx: StepContext): { id: string; threadId?: string; mine: boolean } {
  const seen = [...ctx.target.messages.entries()]
  const picked = ctx.rand.bool(0.85) ? ctx.rand.pick(seen) : undefined
  const id = picked?.[0] ?? crypto.randomUUID()
  ctx.send(id)
  const mine = !!picked && ctx.target === ctx.actor && ctx.actor.threads.has(picked[1])
  return { id, threadId: picked?.[1], mine }
}

const outcome = (ctx: StepContext, mine: boolean) => (mine ? 'own' : ctx.hostile ? 'foreign-404' : 'missing-404')

/** Records a run the actor started (a chat with parentId, a regenerate). */
function recordRun(ctx: StepContext, runId: string, threadId: string) {
  if (!ctx.actor.threads.has(threadId))
    throw new FuzzFailure(`user ${ctx.actor.index}'s run ${runId} went to thread ${threadId}, not one of theirs`)
  ctx.actor.runs.set(runId, { threadId, finished: false })
}

export const conversationOps: FuzzOp[] = [
  {
    name: 'threads.pin',
    weight: 1,
    async run(ctx) {
      const r = threadRef(ctx)
      const pinned = ctx.rand.bool()
      const answer = await ctx.http('PATCH', `/api/threads/${r.id}`, { body: { pinned } })
      if (!r.mine) return (expectNotFound(answer), label(ctx, r))
      expectStatus(answer, 200)
      if (answer.json.thread.pinned !== pinned || answer.json.thread.id !== r.id)
        throw new FuzzFailure(`${answer.where}: pinned is not ${pinned}: ${answer.text.slice(0, 200)}`)
      return 'own'
    },
  },
  {
    name: 'threads.archive',
    weight: 1,
    async run(ctx) {
      const r = threadRef(ctx)
      const archived = ctx.rand.bool(0.4)
      const answer = await ctx.http('PATCH', `/api/threads/${r.id}`, { body: { archived } })
      if (!r.mine) return (expectNotFound(answer), label(ctx, r))
      expectStatus(answer, 200)
      if (answer.json.thread.archived !== archived)
        throw new FuzzFailure(`${answer.where}: archived is not ${archived}`)
      ctx.actor.threads.get(r.id)!.archived = archived
      return 'own'
    },
  },
  {
    name: 'threads.messages-leaf',
    weight: 2,
    async run(ctx) {
      // The thread in the path is the actor's own (or the target's); the leaf is a message of the target's.
      const m = messageRef(ctx)
      const threadId = m.mine
        ? m.threadId!
        : ctx.rand.bool() && ctx.actor.threads.size
          ? ctx.rand.pick([...ctx.actor.threads.keys()])!
          : (m.threadId ?? threadRef(ctx).id)
      if (!m.mine) ctx.send(threadId)
      const follow = ctx.rand.bool(0.3) ? '&follow=latest' : ''
      const answer = await ctx.http('GET', `/api/threads/${threadId}/messages?leaf=${m.id}${follow}`)
      if (!m.mine) return (expectNotFound(answer), outcome(ctx, false))
      expectStatus(answer, 200)
      const ids: string[] = answer.json.messages.map((x: any) => x.id)
      if (!ids.includes(m.id)) throw new FuzzFailure(`${answer.where}: the branch does not pass through ${m.id}`)
      if (!follow && ids.at(-1) !== m.id && !answer.json.nextCursor)
        throw new FuzzFailure(`${answer.where}: the branch does not end at the leaf ${m.id}`)
      ctx.world.seeMessages(ctx.actor, threadId, ids)
      return 'own'
    },
  },
  {
    name: 'ws.chat-branch',
    weight: 2,
    async run(ctx) {
      const m = messageRef(ctx)
      const root = m.mine && ctx.rand.bool(0.2)
      const withThread = ctx.rand.bool()
      // A foreign message under the actor's own thread id must fail just the same.
      const threadId = withThread ? (m.mine ? m.threadId : ctx.rand.pick([...ctx.actor.threads.keys()])) : undefined
      const content = ctx.world.content(ctx.actor, 'branch')
      const frame = root
        ? { type: 'chat', content, threadId: m.threadId, parentId: null }
        : { type: 'chat', content, parentId: m.id, ...(threadId && { threadId }) }
      const result = await sendFrame(ctx, frame)
      if (!m.mine) {
        if (result.error !== 'not_found')
          throw new FuzzFailure(
            `a chat of user ${ctx.actor.index} after message ${m.id} (not theirs) got ${JSON.stringify(result)}, expected not_found`,
          )
        return outcome(ctx, false)
      }
      if (result.error === 'too_many_runs') return 'too-many-runs'
      if (result.error)
        throw new FuzzFailure(
          `a chat of user ${ctx.actor.index} after their message ${m.id} was refused: ${result.error}`,
        )
      if (result.threadId !== m.threadId)
        throw new FuzzFailure(`a chat after message ${m.id} of thread ${m.threadId} ran in ${result.threadId}`)
      recordRun(ctx, result.runId!, result.threadId!)
      return root ? 'own-root' : 'own'
    },
  },
  {
    name: 'ws.regenerate',
    weight: 2,
    async run(ctx) {
      const m = messageRef(ctx)
      const result = await sendFrame(ctx, {
        type: 'regenerate',
        messageId: m.id,
        ...(ctx.rand.bool(0.3) && { agent: 'planner' }),
      })
      if (!m.mine) {
        if (result.error !== 'not_found')
          throw new FuzzFailure(
            `a regenerate of message ${m.id} (not user ${ctx.actor.index}'s) got ${JSON.stringify(result)}, expected not_found`,
          )
        return outcome(ctx, false)
      }
      if (result.error === 'too_many_runs') return 'too-many-runs'
      if (result.error)
        throw new FuzzFailure(`a regenerate of user ${ctx.actor.index}'s message ${m.id} was refused: ${result.error}`)
      if (result.threadId !== m.threadId)
        throw new FuzzFailure(`a regenerate of message ${m.id} of thread ${m.threadId} ran in ${result.threadId}`)
      recordRun(ctx, result.runId!, result.threadId!)
      return 'own'
    },
  },
  {
    name: 'search.query',
    weight: 2,
    async run(ctx) {
      // Another user's marker must find nothing (the actor sent it, so an echo
      // of it would pass the scan: the results are checked instead).
      const { foreign, word: q } = ownOrForeignWord(ctx, ctx.target.marker, [
        'secret',
        ctx.actor.marker,
        'answer',
        'hello branch',
      ])
      const answer = await ctx.http(
        'GET',
        `/api/search?q=${encodeURIComponent(q)}&limit=${ctx.rand.pick([5, 50, 200])}`,
      )
      expectStatus(answer, 200)
      for (const r of answer.json.results) {
        if (ctx.world.ownerOf(r.threadId)?.owner !== ctx.actor.index)
          throw new FuzzFailure(`${answer.where}: a result in thread ${r.threadId}, not user ${ctx.actor.index}'s`)
      }
      if (foreign && answer.json.results.length > 0)
        throw new FuzzFailure(`${answer.where}: searching another user's marker found ${answer.text.slice(0, 300)}`)
      return foreign ? 'foreign-none' : 'own'
    },
  },
  {
    name: 'threads.export',
    weight: 2,
    async run(ctx) {
      const r = threadRef(ctx)
      const format = ctx.rand.pick(['json', 'markdown', undefined] as const)
      const answer = await ctx.http('GET', `/api/threads/${r.id}/export${format ? `?format=${format}` : ''}`)
      if (!r.mine) return (expectNotFound(answer), label(ctx, r))
      expectStatus(answer, 200)
      if (format !== 'markdown') {
        if (answer.json?.thread?.id !== r.id) throw new FuzzFailure(`${answer.where}: not the export of thread ${r.id}`)
        ctx.world.seeMessages(
          ctx.actor,
          r.id,
          answer.json.messages.map((m: any) => m.id),
        )
      }
      return `own-${format ?? 'json'}`
    },
  },
  {
    name: 'threads.import',
    weight: 1,
    async run(ctx) {
      // The actor's own export re-imported; hostile: with another user's thread id written into it.
      const own = ctx.rand.pick([...ctx.actor.threads.keys()])
      if (!own) return 'no-thread'
      const exported = await ctx.http('GET', `/api/threads/${own}/export?format=json`)
      expectStatus(exported, 200)
      const file = exported.json
      const foreignId =
        ctx.hostile && ctx.target.threads.size ? ctx.send(ctx.rand.pick([...ctx.target.threads.keys()])!) : undefined
      if (foreignId) file.thread.id = foreignId
      const answer = await ctx.http('POST', '/api/threads/import', {
        body: JSON.stringify(file),
        headers: { 'content-type': 'application/json' },
      })
      expectStatus(answer, 201)
      for (const t of answer.json.threads) {
        if (t.id === foreignId || t.id === own)
          throw new FuzzFailure(`${answer.where}: the import reused thread id ${t.id}`)
        ctx.world.own(t.id, ctx.actor.index, 'id')
        // Whether an import keeps `archived` is the server's choice: read it back.
        const got = await ctx.http('GET', `/api/threads/${t.id}`)
        expectStatus(got, 200)
        ctx.actor.threads.set(t.id, { title: t.title, archived: !!got.json.thread.archived })
      }
      return foreignId ? 'foreign-id-new-thread' : 'own'
    },
  },
]
