/**
 * API keys and what they open: create, list, revoke (own and foreign key ids), then `/v1/models`,
 * `/v1/chat/completions` (into a new, an own or another user's thread) and `/mcp` `tools/call`
 * with the actor's key — results never carry another user's data; a revoked key is 401.
 */
import { expectStatus, type Answer } from '../client'
import { FuzzFailure } from '../world'
import { expectListedAreLive, listAll } from './list'
import { pickRef } from './pick'
import type { FuzzOp, StepContext } from './types'
import { onRef } from './shapes'

const MAX_KEYS = 4

/** One of the actor's live keys (made when it has none). */
async function ownKey(ctx: StepContext): Promise<string> {
  const live = [...ctx.actor.keys.values()]
  return ctx.rand.pick(live) ?? (await createKey(ctx)).secret
}

async function createKey(ctx: StepContext): Promise<{ id: string; secret: string }> {
  const answer = await ctx.http('POST', '/api/keys', {
    body: { name: ctx.world.content(ctx.actor, 'key'), ...(ctx.rand.bool(0.3) && { expiresInDays: 30 }) },
  })
  expectStatus(answer, 201)
  const { key, secret } = answer.json
  if (!/^lcs_[A-Za-z0-9_-]{43}$/.test(secret) || !secret.startsWith(key.prefix))
    throw new FuzzFailure(`${answer.where}: a malformed key`)
  ctx.world.own(key.id, ctx.actor.index, 'id')
  ctx.world.own(secret, ctx.actor.index, 'secret')
  ctx.world.own(key.prefix, ctx.actor.index, 'secret')
  ctx.actor.keys.set(key.id, secret)
  return { id: key.id, secret }
}

/** A revoked key of the actor's answers 401 api_key_revoked. */
function expectRevoked(answer: Answer) {
  if (answer.status !== 401 || answer.json?.error?.code !== 'api_key_revoked')
    throw new FuzzFailure(`${answer.where}: expected 401 api_key_revoked: ${answer.text.slice(0, 200)}`)
}

const MCP_HEADERS = { accept: 'application/json, text/event-stream' }

export const keyOps: FuzzOp[] = [
  {
    name: 'keys.create',
    weight: 1,
    async run(ctx) {
      if (ctx.actor.keys.size >= MAX_KEYS) return 'full'
      await createKey(ctx)
      return 'own'
    },
  },
  {
    name: 'keys.list',
    weight: 1,
    async run(ctx) {
      const { items, where } = await listAll(ctx, '/api/keys', 'keys')
      const listed = new Map<string, unknown>(items.map((k: any) => [k.id, k.name]))
      expectListedAreLive(where, 'key', ctx.actor, listed, ctx.actor.keys)
      if (items.some((k: any) => 'secret' in k || 'hash' in k))
        throw new FuzzFailure(`${where}: a listed key shows its secret`)
      return 'own'
    },
  },
  onRef(
    {
      name: 'keys.revoke',
      weight: 1,
      pick: (ctx) => pickRef(ctx, ctx.target.keys.keys(), ctx.target.revokedKeys.keys()),
      method: 'DELETE',
      path: (id) => `/api/keys/${id}`,
      status: 204,
    },
    (ctx, id) => {
      ctx.actor.revokedKeys.set(id, ctx.actor.keys.get(id)!)
      ctx.actor.keys.delete(id)
    },
  ),
  {
    name: 'v1.models',
    weight: 1,
    async run(ctx) {
      const kind = ctx.rand.weighted([
        [4, 'own'],
        [ctx.actor.revokedKeys.size ? 2 : 0, 'revoked'],
        [1, 'jwt'],
      ] as const)
      const token =
        kind === 'own'
          ? await ownKey(ctx)
          : kind === 'revoked'
            ? ctx.rand.pick([...ctx.actor.revokedKeys.values()])!
            : ctx.actor.accessToken
      const answer = await ctx.http('GET', '/v1/models', { token, openaiErrors: true })
      if (kind === 'revoked') return (expectRevoked(answer), 'revoked-401')
      if (kind === 'jwt') {
        if (answer.status !== 401 || answer.json.error.code !== 'invalid_api_key')
          throw new FuzzFailure(`${answer.where}: an access token on /v1: ${answer.text.slice(0, 200)}`)
        return 'jwt-401'
      }
      expectStatus(answer, 200)
      return 'own'
    },
  },
  {
    name: 'v1.chat',
    weight: 2,
    async run(ctx) {
      const revoked = ctx.rand.bool(0.1) && ctx.actor.revokedKeys.size > 0
      const token = revoked ? ctx.rand.pick([...ctx.actor.revokedKeys.values()])! : await ownKey(ctx)
      const where = ctx.rand.weighted([
        [3, 'new'],
        [ctx.actor.threads.size ? 2 : 0, 'own'],
        [ctx.hostile && ctx.target.threads.size ? 2 : 0, 'foreign'],
        [1, 'made-up'],
      ] as const)
      const threadId =
        where === 'own'
          ? ctx.rand.pick([...ctx.actor.threads.keys()])!
          : where === 'foreign'
            ? ctx.rand.pick([...ctx.target.threads.keys()])!
            : where === 'made-up'
              ? crypto.randomUUID()
              : undefined
      if (threadId) ctx.send(threadId)
      const question = ctx.world.content(ctx.actor, 'v1 question')
      const answer = await ctx.http('POST', '/v1/chat/completions', {
        token,
        openaiErrors: true,
        headers: threadId ? { 'x-thread-id': threadId } : {},
        body: {
          model: ctx.rand.pick(['agent:planner', 'agent:triage', 'llama3.2'])!,
          messages: [{ role: 'user', content: question }],
        },
      })
      if (revoked) return (expectRevoked(answer), 'revoked-401')
      if (where === 'foreign' || where === 'made-up') {
        if (answer.status !== 404 || answer.json?.error?.code !== 'not_found')
          throw new FuzzFailure(
            `${answer.where}: a completion in thread ${threadId} (not user ${ctx.actor.index}'s): ${answer.text.slice(0, 200)}`,
          )
        return where === 'foreign' ? 'foreign-404' : 'missing-404'
      }
      if (answer.status === 429) return 'too-many-runs'
      expectStatus(answer, 200)
      const content = answer.json.choices?.[0]?.message?.content ?? ''
      if (!content.includes(ctx.actor.marker))
        throw new FuzzFailure(`${answer.where}: the answer is not to the user's question: ${content.slice(0, 200)}`)
      const runThread = answer.headers.get('x-thread-id')!
      const runId = answer.headers.get('x-run-id')!
      if (threadId && runThread !== threadId)
        throw new FuzzFailure(`${answer.where}: ran in thread ${runThread}, not ${threadId}`)
      ctx.world.own(runThread, ctx.actor.index, 'id')
      ctx.world.own(runId, ctx.actor.index, 'id')
      if (!ctx.actor.threads.has(runThread)) ctx.actor.threads.set(runThread, { title: '' })
      ctx.actor.runs.set(runId, { threadId: runThread, finished: false })
      return where
    },
  },
  {
    name: 'mcp.call',
    weight: 2,
    async run(ctx) {
      const token = await ownKey(ctx)
      const dataset = ctx.rand.pick([...ctx.target.datasets.live])
      const foreignDataset = ctx.hostile && dataset !== undefined
      const [tool, args] = ctx.rand.pick([
        ['search_notes', { query: 'secret' }],
        ['search_history', { query: 'secret' }],
        ['list_datasets', {}],
        ['search_documents', { query: ctx.rand.pick(['warehouse', ctx.actor.docWord])! }],
        ['query_dataset', { dataset: dataset ? ctx.send(ctx.rand.bool() ? dataset[0] : dataset[1].name) : 'sales' }],
        ['calculate', { expression: '6 * 7' }],
      ] as const)!
      const answer = await ctx.http('POST', '/mcp', {
        token,
        headers: MCP_HEADERS,
        body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: args } },
      })
      expectStatus(answer, 200)
      const result = answer.json?.result
      if (!result) throw new FuzzFailure(`${answer.where}: no result: ${answer.text.slice(0, 200)}`)
      if (tool === 'query_dataset' && !dataset) return 'own-query_dataset-sales'
      if (tool === 'query_dataset' && dataset) {
        const name = dataset[1].name
        const mineByName = [...ctx.actor.datasets.live.values()].some(
          (d) => d.name.toLowerCase() === name.toLowerCase(),
        )
        const ok = !foreignDataset || ((args as { dataset: string }).dataset === name && mineByName)
        // Another user's dataset (by id or unique name) is an error; the actor's own gives its rows.
        if (foreignDataset && !ok && !result.isError)
          throw new FuzzFailure(
            `${answer.where}: user ${ctx.actor.index} queried user ${ctx.target.index}'s dataset: ${answer.text.slice(0, 300)}`,
          )
        if (!foreignDataset && result.isError)
          throw new FuzzFailure(
            `${answer.where}: user ${ctx.actor.index}'s own dataset failed: ${answer.text.slice(0, 300)}`,
          )
        return foreignDataset
          ? result.isError
            ? 'foreign-query_dataset-refused'
            : 'foreign-query_dataset-own-name'
          : 'own-query_dataset'
      }
      if (tool === 'search_documents') {
        for (const p of result.structuredContent?.passages ?? [])
          if (ctx.world.ownerOf(p.documentId)?.owner !== ctx.actor.index)
            throw new FuzzFailure(`${answer.where}: a passage of document ${p.documentId}`)
      }
      if (result.isError && tool !== 'search_documents')
        throw new FuzzFailure(`${answer.where}: ${tool} failed: ${answer.text.slice(0, 300)}`)
      return `own-${tool}`
    },
  },
]
