/**
 * Starting runs over the WebSocket (`chat`), in the actor's threads or someone else's, with
 * directives that make the scripted model call tools with the actor's or another user's dataset
 * names and ids. What each run must show is recorded as its expectation and checked once it has
 * finished (runner.ts › settle).
 */
import { FuzzFailure, type RunExpectation } from '../world'
import type { FuzzOp, StepContext } from './types'

export interface ChatResult {
  runId?: string
  threadId?: string
  error?: string
}

/** Sends a chat frame and waits for its run_accepted or error (matched by requestId). */
export function sendChat(
  ctx: StepContext,
  frame: { content: string; threadId?: string; agent?: string },
): Promise<ChatResult> {
  return sendFrame(ctx, { type: 'chat', ...frame })
}

/** Sends a frame that starts a run (`chat`, `regenerate`) and waits for its run_accepted or error. */
export async function sendFrame(ctx: StepContext, frame: Record<string, unknown>): Promise<ChatResult> {
  const socket = await ctx.socket()
  const requestId = crypto.randomUUID()
  ctx.world.own(requestId, ctx.actor.index, 'id')
  socket.client.send({ ...frame, requestId })
  let answer: any
  await socket.client.until(
    () => (answer = socket.client.frames.find((f) => f.requestId === requestId)) !== undefined || socket.closed,
    30_000,
    `the answer to chat ${requestId}`,
  )
  if (!answer)
    throw new FuzzFailure(
      `the socket of user ${ctx.actor.index} closed (${socket.client.closeCode}) instead of answering a chat`,
    )
  if (answer.type === 'error') return { error: answer.code }
  if (answer.type !== 'run_accepted')
    throw new FuzzFailure(`a chat was answered with ${JSON.stringify(answer).slice(0, 200)}`)
  return { runId: answer.runId, threadId: answer.threadId }
}

type Plan = { directives: string[]; agent?: string; expect?: RunExpectation; foreign?: boolean }

/** A tool call for the run: which tool, with whose ids and names, and what it must give. */
function toolPlan(ctx: StepContext): Plan {
  const { actor, target, rand, world } = ctx
  const tool = rand.pick([
    'query_dataset',
    'query_dataset',
    'query_dataset',
    'list_datasets',
    'search_notes',
    'search_history',
    'save_note',
    'calculate',
    'unknown',
  ] as const)!
  const call = (name: string, args: object, force = false) =>
    `#${force ? 'force' : 'call'} ${name} ${JSON.stringify(args)}`
  switch (tool) {
    case 'query_dataset': {
      const viaTriage = rand.bool()
      const datasets = [...target.datasets.live]
      const pickDs = rand.pick(datasets)
      const kind = rand.weighted([
        [pickDs ? 3 : 0, 'id'],
        [pickDs ? 3 : 0, 'name'],
        [1, 'sales'],
        [1, 'made-up'],
      ] as const)
      const ref =
        kind === 'id'
          ? pickDs![0]
          : kind === 'name'
            ? pickDs![1].name
            : kind === 'sales'
              ? 'sales'
              : crypto.randomUUID()
      if (kind !== 'sales') ctx.send(ref)
      const mineByName = [...actor.datasets.live.values()].some((d) => d.name.toLowerCase() === ref.toLowerCase())
      const ok = (kind === 'id' && target === actor) || mineByName
      // The outcome depends on the actor's own datasets (which a later step may change) unless it
      // names another user's dataset by id or by its unique name, or a made-up one.
      const dependsOnOwn = kind !== 'made-up' && (target === actor || ref.toLowerCase() === 'sales')
      const args = rand.bool()
        ? { dataset: ref }
        : { dataset: ref, where: [{ column: 'region', op: '=', value: 'North' }] }
      return {
        agent: viaTriage ? undefined : 'data_analyst',
        directives: [
          ...(viaTriage ? [call('transfer_to_data_analyst', { reason: 'data' })] : []),
          call('query_dataset', args),
        ],
        foreign: target !== actor && kind !== 'sales' && kind !== 'made-up',
        expect: {
          tool: 'query_dataset',
          ok,
          resultIncludes: ok ? actor.marker : undefined,
          datasetsVersion: dependsOnOwn ? actor.datasetsVersion : undefined,
        },
      }
    }
    case 'list_datasets':
      return {
        agent: 'data_analyst',
        directives: [call('list_datasets', {})],
        expect: { tool: 'list_datasets', ok: true },
      }
    case 'search_notes': {
      // "secret" matches every user's notes: only the actor's may come back.
      const query = rand.bool() ? 'secret' : ctx.send(rand.pick([...target.datasets.live.values()])?.name ?? 'note')
      return {
        agent: 'notes_assistant',
        directives: [call('search_notes', { query })],
        expect: { tool: 'search_notes', ok: true },
      }
    }
    case 'search_history':
      return {
        agent: 'notes_assistant',
        directives: [call('search_history', { query: rand.pick(['secret', 'answer', 'hello'])! })],
        expect: { tool: 'search_history', ok: true },
      }
    case 'save_note':
      return {
        agent: rand.pick(['notes_assistant', 'planner'])!,
        directives: [
          call('save_note', { title: world.content(actor, 'tool note'), body: world.content(actor, 'tool note body') }),
        ],
        expect: { tool: 'save_note', ok: true },
      }
    case 'calculate':
      return {
        agent: 'planner',
        directives: [call('calculate', { expression: `${rand.int(100)} * 3 + 1` })],
        expect: { tool: 'calculate', ok: true },
      }
    case 'unknown':
      return {
        agent: 'planner',
        directives: [call('drop_all_tables', { user: ctx.send(target.id) }, true)],
        expect: { tool: 'drop_all_tables', ok: false },
      }
  }
}

/** Which thread the chat goes to; `expectNotFound` when it is not the actor's live thread. */
function threadChoice(ctx: StepContext): { threadId?: string; expectNotFound: boolean } {
  const { rand, target, actor } = ctx
  const own = [...actor.threads.keys()]
  const foreign = ctx.hostile ? [...target.threads.keys()] : []
  const kind = rand.weighted([
    [3, 'new'],
    [own.length ? 3 : 0, 'own'],
    [foreign.length ? 2 : 0, 'foreign'],
    [target.deletedThreads.size ? 1 : 0, 'deleted'],
    [1, 'made-up'],
  ] as const)
  if (kind === 'new') return { expectNotFound: false }
  const threadId =
    kind === 'own'
      ? rand.pick(own)!
      : kind === 'foreign'
        ? rand.pick(foreign)!
        : kind === 'deleted'
          ? rand.pick([...target.deletedThreads])!
          : crypto.randomUUID()
  ctx.send(threadId)
  return { threadId, expectNotFound: kind !== 'own' }
}

async function chatOp(ctx: StepContext, withTools: boolean): Promise<string> {
  const { actor, world, rand } = ctx
  const thread = threadChoice(ctx)
  const plan: Plan = withTools
    ? toolPlan(ctx)
    : {
        directives: rand.bool(0.3) ? ['#slow'] : [],
        agent: rand.pick([undefined, undefined, 'triage', 'planner'] as const),
      }
  const content = [world.content(actor, 'hello'), ...plan.directives].join('\n')
  const result = await sendChat(ctx, { content, threadId: thread.threadId, agent: plan.agent })
  if (thread.expectNotFound) {
    if (result.error !== 'not_found')
      throw new FuzzFailure(
        `a chat of user ${actor.index} into thread ${thread.threadId} (not theirs) got ${JSON.stringify(result)}, expected not_found`,
      )
    return ctx.hostile ? 'foreign-not-found' : 'missing-not-found'
  }
  if (result.error === 'too_many_runs') return 'too-many-runs'
  if (result.error) throw new FuzzFailure(`a chat of user ${actor.index} was refused: ${result.error}`)
  if (thread.threadId && result.threadId !== thread.threadId)
    throw new FuzzFailure(`a chat into thread ${thread.threadId} ran in ${result.threadId}`)
  if (!actor.threads.has(result.threadId!)) actor.threads.set(result.threadId!, { title: '' })
  actor.runs.set(result.runId!, { threadId: result.threadId!, expect: plan.expect, finished: false })
  return withTools
    ? `${plan.foreign ? 'foreign' : 'own'}-${plan.expect!.tool}-${plan.expect!.ok ? 'ok' : 'refused'}`
    : 'own'
}

export const chatOps: FuzzOp[] = [
  { name: 'ws.chat', weight: 5, run: (ctx) => chatOp(ctx, false) },
  { name: 'ws.chat-tools', weight: 6, run: (ctx) => chatOp(ctx, true) },
  {
    name: 'ws.chat-unknown-agent',
    weight: 1,
    async run(ctx) {
      const result = await sendChat(ctx, { content: ctx.world.content(ctx.actor), agent: 'root' })
      if (result.error !== 'unknown_agent')
        throw new FuzzFailure(`a chat with an unknown agent got ${JSON.stringify(result)}`)
      return 'refused'
    },
  },
]
