/**
 * Share links: create (own and foreign threads), list, revoke, and the anonymous reads
 * `GET /api/shares/:id/public` and `/s/:id`. A live share shows exactly the snapshot taken when it
 * was made — its owner's content only, and nothing about the owner — and a revoked one is a 404.
 */
import { expectNotFound, expectStatus, request } from '../client'
import { scan } from '../oracle'
import { FuzzFailure, type FuzzUser } from '../world'
import { expectListedAreLive, listAll } from './list'
import { label, pickRef } from './pick'
import type { FuzzOp, StepContext } from './types'

/** A well-formed share id nobody has (144 random bits, base64url). */
const madeUpShareId = () => Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString('base64url')

/** Which user's share (live or gone) an anonymous read names. */
function anyShare(ctx: StepContext): { id: string; owner?: FuzzUser; live: boolean } {
  const choices: { id: string; owner?: FuzzUser; live: boolean }[] = []
  for (const user of ctx.world.users) {
    for (const id of user.shares.keys()) choices.push({ id, owner: user, live: true })
    for (const id of [...user.goneShares].slice(-5)) choices.push({ id, owner: user, live: false })
  }
  return (ctx.rand.bool(0.9) && ctx.rand.pick(choices)) || { id: madeUpShareId(), live: false }
}

/**
 * Whether a share the model held live when the step began is still live, once a removal racing
 * this read (the owner's revoke or thread delete, running at the same time) has been recorded.
 * A 404 for a share that stays live is a failure; one whose removal lands meanwhile is not.
 */
async function stillLive(share: { id: string; owner?: FuzzUser }): Promise<boolean> {
  for (let waited = 0; waited < 5_000; waited += 10) {
    if (!share.owner?.shares.has(share.id)) return false
    await Bun.sleep(10)
  }
  return true
}

/**
 * The public snapshot, read anonymously: it is scanned as if its owner read it (their content
 * may show, nobody else's) and must name nothing of the owner's account or thread.
 */
async function readPublic(ctx: StepContext, owner: FuzzUser, id: string) {
  const answer = await request(ctx.stack, owner, 'GET', `/api/shares/${id}/public`, { token: null })
  if (answer.status !== 200) return answer
  // Message texts are the owner's to share (a quoted tool result may name their own ids); the
  // rest of the answer names nothing of the owner: no account, no thread id, no other fields.
  const threadId = owner.shares.get(id)?.threadId
  const frame = JSON.stringify({
    ...answer.json,
    title: '',
    messages: answer.json.messages.map(({ content: _, ...m }: any) => m),
  }).toLowerCase()
  for (const secret of [owner.id, owner.email, threadId]) {
    if (secret && frame.includes(secret.toLowerCase()))
      throw new FuzzFailure(
        `${answer.where}: the public share names its owner's account or thread (${secret}): ${answer.text.slice(0, 600)}`,
      )
  }
  const fields = new Set(['role', 'content', 'agent', 'createdAt'])
  if (
    Object.keys(answer.json).sort().join() !== 'createdAt,messages,title' ||
    answer.json.messages.some((m: any) => Object.keys(m).some((k) => !fields.has(k)))
  ) {
    throw new FuzzFailure(
      `${answer.where}: the public share has fields beyond title, createdAt and messages {role, content, agent, createdAt}: ${answer.text.slice(0, 300)}`,
    )
  }
  for (const m of answer.json.messages) {
    if (typeof m.content !== 'string' || (m.role === 'user' && !m.content.includes(owner.marker)))
      throw new FuzzFailure(
        `${answer.where}: a shared message not written by user ${owner.index}: ${JSON.stringify(m).slice(0, 200)}`,
      )
  }
  return answer
}

export const shareOps: FuzzOp[] = [
  {
    name: 'shares.create',
    weight: 1,
    async run(ctx) {
      const r = pickRef(ctx, ctx.target.threads.keys(), ctx.target.deletedThreads)
      const answer = await ctx.http('POST', `/api/threads/${r.id}/share`)
      if (!r.mine) return (expectNotFound(answer), label(ctx, r))
      expectStatus(answer, 201)
      const share = answer.json.share
      if (share.threadId !== r.id || !String(share.url).endsWith(`/s/${share.id}`))
        throw new FuzzFailure(`${answer.where}: not a share of thread ${r.id}: ${answer.text}`)
      ctx.world.own(share.id, ctx.actor.index, 'secret') // the link: never in another user's or an admin's view
      ctx.actor.shares.set(share.id, { threadId: r.id })
      // The snapshot as first read: it must never change while the share lives.
      const snapshot = await readPublic(ctx, ctx.actor, share.id)
      expectStatus(snapshot, 200)
      ctx.actor.shares.get(share.id)!.snapshot = snapshot.text
      return 'own'
    },
  },
  {
    name: 'shares.list',
    weight: 1,
    async run(ctx) {
      const { items, where } = await listAll(ctx, '/api/shares', 'shares')
      const listed = new Map<string, unknown>(items.map((s: any) => [s.id, `thread ${s.threadId}`]))
      expectListedAreLive(where, 'share', ctx.actor, listed, ctx.actor.shares)
      return 'own'
    },
  },
  {
    name: 'shares.delete',
    weight: 1,
    async run(ctx) {
      const live = [...ctx.target.shares.keys()]
      const kind = ctx.rand.weighted([
        [live.length ? 6 : 0, 'live'],
        [ctx.target.goneShares.size ? 1 : 0, 'gone'],
        [1, 'made-up'],
      ] as const)
      const id =
        kind === 'live'
          ? ctx.rand.pick(live)!
          : kind === 'gone'
            ? ctx.rand.pick([...ctx.target.goneShares])!
            : madeUpShareId()
      ctx.send(id)
      const mine = kind === 'live' && !ctx.hostile
      const answer = await ctx.http('DELETE', `/api/shares/${id}`)
      if (!mine) return (expectNotFound(answer), ctx.hostile && kind === 'live' ? 'foreign-404' : 'missing-404')
      expectStatus(answer, 204)
      ctx.actor.shares.delete(id)
      ctx.actor.goneShares.add(id)
      return 'own'
    },
  },
  {
    name: 'shares.public',
    weight: 2,
    async run(ctx) {
      const share = anyShare(ctx)
      if (!share.owner) {
        const answer = await ctx.anon('GET', `/api/shares/${share.id}/public`)
        return (expectNotFound(answer), 'made-up-404')
      }
      const answer = await readPublic(ctx, share.owner, share.id)
      if (!share.live) return (expectNotFound(answer), 'revoked-404')
      if (answer.status === 404 && !(await stillLive(share))) return 'removed-meanwhile-404'
      expectStatus(answer, 200)
      const model = share.owner.shares.get(share.id)!
      if (model.snapshot !== undefined && answer.text !== model.snapshot)
        throw new FuzzFailure(
          `${answer.where}: the snapshot changed: was ${model.snapshot.slice(0, 300)}, now ${answer.text.slice(0, 300)}`,
        )
      return 'live'
    },
  },
  {
    name: 'shares.page',
    weight: 1,
    async run(ctx) {
      // The HTML page: 200 for a live share, 404 for a revoked or unknown one; nothing of anyone in it.
      const share = anyShare(ctx)
      const res = await fetch(`${ctx.stack.server.url}/s/${share.id}`)
      const text = await res.text()
      const where = `GET /s/${share.id} → ${res.status}`
      scan(ctx.world, null, text, where)
      if (share.live && res.status === 404 && !(await stillLive(share))) return 'removed-meanwhile-404'
      if (res.status !== (share.live ? 200 : 404)) throw new FuzzFailure(`${where}: expected ${share.live ? 200 : 404}`)
      return share.live ? 'live' : 'gone-404'
    },
  },
]
