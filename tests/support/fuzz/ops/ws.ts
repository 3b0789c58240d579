/**
 * The WebSocket beyond chat: opening and closing sockets, cancel and resume of own and others'
 * runs, malformed frames, in-band re-auth with own, forged and other users' tokens, and
 * connections that try to authenticate with bad tokens.
 */
import { WsClient } from '../../ws-client'
import { forgeAccessToken, tamperPayload } from '../../tokens'
import { openSocket, roundTrip } from '../client'
import { scan } from '../oracle'
import { FuzzFailure } from '../world'
import type { FuzzOp, StepContext } from './types'

const MAX_SOCKETS = 3

/** The socket's close, or a failure when the server keeps it open. */
async function closedWithin(client: WsClient, ms = 30_000) {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>(
    (_, reject) =>
      (timer = setTimeout(
        () =>
          reject(
            new FuzzFailure(
              `the server kept a socket open that it must close; frames: ${JSON.stringify(client.frames).slice(0, 300)}`,
            ),
          ),
        ms,
      )),
  )
  try {
    return await Promise.race([client.closed, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * A run id for cancel/resume: one of the target's recent runs, or a made-up one. `withDeleted`
 * (resume) also picks runs of deleted threads, which are gone at once even while in memory.
 */
function runRef(ctx: StepContext, withDeleted = false): { runId: string; mine: boolean } {
  const runs = [...ctx.target.runs.entries()].filter(([, r]) => withDeleted || !r.deleted).slice(-6)
  const picked = ctx.rand.bool(0.85) ? ctx.rand.pick(runs) : undefined
  const runId = picked?.[0] ?? crypto.randomUUID()
  ctx.send(runId)
  return { runId, mine: !!picked && !picked[1].deleted && ctx.target === ctx.actor }
}

/** A token that must not authenticate anyone. */
async function badToken(ctx: StepContext): Promise<[string, string]> {
  const cfg = ctx.stack.server.config
  const kind = ctx.rand.pick(['tampered', 'wrong-secret', 'expired', 'garbage'] as const)!
  // Claim to be someone else: the target, or (for an honest actor) the next user.
  const other = ctx.target !== ctx.actor ? ctx.target : ctx.world.users[(ctx.actor.index + 1) % ctx.world.users.length]!
  const victim = ctx.send(other.id)
  if (kind === 'tampered') return [kind, tamperPayload(ctx.actor.accessToken, (p) => void (p.sub = victim))]
  if (kind === 'wrong-secret')
    return [kind, await forgeAccessToken(cfg, { sub: victim, secret: 'another-secret-entirely-0123456789abcdef' })]
  if (kind === 'expired')
    return [
      kind,
      await forgeAccessToken(cfg, {
        sub: victim,
        exp: Math.floor(Date.now() / 1000) - 5,
        iat: Math.floor(Date.now() / 1000) - 60,
      }),
    ]
  return [kind, 'x.y.z']
}

const MALFORMED: [string, object | string, string][] = [
  ['invalid-json', '{"type":"chat",', 'invalid_json'],
  ['not-object', '[1,2,3]', 'invalid_frame'],
  ['no-type', { hello: 'world' }, 'invalid_frame'],
  ['unknown-type', { type: 'sudo', requestId: 'r' }, 'unknown_type'],
  ['chat-no-request-id', { type: 'chat', content: 'x' }, 'missing_field'],
  ['chat-empty', { type: 'chat', requestId: 'r', content: '   ' }, 'missing_field'],
  ['chat-bad-thread', { type: 'chat', requestId: 'r', content: 'x', threadId: 42 }, 'invalid_field'],
  ['cancel-no-run', { type: 'cancel' }, 'missing_field'],
  ['resume-bad-seq', { type: 'resume', runId: 'r', afterSeq: -1 }, 'invalid_field'],
  ['auth-no-token', { type: 'auth' }, 'missing_field'],
]

export const wsOps: FuzzOp[] = [
  {
    name: 'ws.open',
    weight: 1,
    async run(ctx) {
      if (ctx.world.openSockets(ctx.actor).length >= MAX_SOCKETS) return 'full'
      await openSocket(ctx.stack, ctx.actor)
      return 'opened'
    },
  },
  {
    name: 'ws.close',
    weight: 1,
    async run(ctx) {
      const socket = ctx.rand.pick(ctx.world.openSockets(ctx.actor))
      if (!socket) return 'none'
      socket.client.close()
      await socket.client.closed
      return 'closed'
    },
  },
  {
    name: 'ws.cancel',
    weight: 3,
    async run(ctx) {
      const { runId, mine } = runRef(ctx)
      const frames = await roundTrip(await ctx.socket(), [{ type: 'cancel', runId }])
      const error = frames.find((f) => f.type === 'error' && f.runId === runId)
      if (mine) {
        if (error)
          throw new FuzzFailure(
            `cancelling user ${ctx.actor.index}'s own run ${runId} failed: ${JSON.stringify(error)}`,
          )
        return 'own'
      }
      if (error?.code !== 'not_found')
        throw new FuzzFailure(
          `cancelling run ${runId} (not user ${ctx.actor.index}'s) gave ${JSON.stringify(error)}, expected not_found`,
        )
      return ctx.hostile ? 'foreign-not-found' : 'missing-not-found'
    },
  },
  {
    name: 'ws.resume',
    weight: 3,
    async run(ctx) {
      const { runId, mine } = runRef(ctx, true)
      const afterSeq = ctx.rand.pick([0, 0, 1, 2])!
      const frames = await roundTrip(await ctx.socket(), [{ type: 'resume', runId, afterSeq }])
      const error = frames.find((f) => f.type === 'error' && f.runId === runId)
      if (mine) {
        if (error)
          throw new FuzzFailure(`resuming user ${ctx.actor.index}'s own run ${runId} failed: ${JSON.stringify(error)}`)
        return 'own'
      }
      if (error?.code !== 'not_found')
        throw new FuzzFailure(
          `resuming run ${runId} (not user ${ctx.actor.index}'s) gave ${JSON.stringify(error)}, expected not_found`,
        )
      if (ctx.hostile) {
        // (Live events of the actor's own run of a deleted thread may still arrive while it ends.)
        if (frames.some((f) => f.runId === runId && typeof f.seq === 'number'))
          throw new FuzzFailure(`resuming another user's run ${runId} replayed events`)
        return 'foreign-not-found'
      }
      return ctx.actor.runs.get(runId)?.deleted ? 'own-deleted-not-found' : 'missing-not-found'
    },
  },
  {
    name: 'ws.malformed',
    weight: 2,
    async run(ctx) {
      const [name, frame, code] = ctx.rand.pick(MALFORMED)!
      const frames = await roundTrip(await ctx.socket(), [frame])
      const error = frames.find((f) => f.type === 'error')
      if (error?.code !== code)
        throw new FuzzFailure(`malformed frame ${name} got ${JSON.stringify(error)}, expected ${code}`)
      return name
    },
  },
  {
    name: 'ws.reauth',
    weight: 2,
    async run(ctx) {
      const socket = await ctx.socket()
      const kind = ctx.rand.weighted([
        [3, 'own'],
        [2, 'bad'],
        [ctx.hostile ? 1 : 0, 'other-user'],
      ] as const)
      if (kind === 'own') {
        const frames = await roundTrip(socket, [{ type: 'auth', token: ctx.actor.accessToken }])
        if (!frames.some((f) => f.type === 'auth_ok'))
          throw new FuzzFailure(
            `re-auth with user ${ctx.actor.index}'s own token got ${JSON.stringify(frames).slice(0, 200)}`,
          )
        return 'own'
      }
      if (kind === 'bad') {
        const [what, token] = await badToken(ctx)
        const frames = await roundTrip(socket, [{ type: 'auth', token }])
        if (frames.find((f) => f.type === 'error')?.code !== 'invalid_token')
          throw new FuzzFailure(`re-auth with a ${what} token got ${JSON.stringify(frames).slice(0, 200)}`)
        return `bad-${what}`
      }
      // A real token of another user on this connection: it must close (4403), never switch users.
      ctx.send(ctx.target.accessToken)
      socket.client.send({ type: 'auth', token: ctx.target.accessToken })
      const { code } = await closedWithin(socket.client)
      if (code !== 4403) throw new FuzzFailure(`re-auth with another user's token closed with ${code}, expected 4403`)
      return 'other-user-4403'
    },
  },
  {
    name: 'ws.oversized',
    weight: 1,
    async run(ctx) {
      // A frame over 1 MiB closes that connection (1009); the user's other sockets carry on.
      const socket = await openSocket(ctx.stack, ctx.actor)
      socket.client.send({ type: 'chat', requestId: 'big', content: `${ctx.actor.marker} ${'x'.repeat(1024 * 1024)}` })
      const { code } = await closedWithin(socket.client)
      if (code !== 1009) throw new FuzzFailure(`an oversized frame closed with ${code}, expected 1009`)
      return '1009'
    },
  },
  {
    name: 'ws.connect-bad',
    weight: 1,
    async run(ctx) {
      const client = await WsClient.open(ctx.stack.server.wsUrl)
      try {
        const notAuthFirst = ctx.rand.bool(0.25)
        const [what, token] = notAuthFirst ? ['chat-first', ''] : await badToken(ctx)
        client.send(notAuthFirst ? { type: 'chat', requestId: 'r', content: 'hi' } : { type: 'auth', token })
        const { code } = await closedWithin(client)
        for (const frame of client.frames)
          scan(ctx.world, null, JSON.stringify(frame), `ws frame ${frame.type} before auth`)
        if (code !== 4401 || client.frames.some((f) => f.type === 'ready'))
          throw new FuzzFailure(
            `a ${what} auth closed with ${code} after frames ${JSON.stringify(client.frames).slice(0, 200)}`,
          )
        return what
      } finally {
        client.close()
      }
    },
  },
]
