/**
 * Documents: JSON text uploads carrying the user's marker and document word, list, get, delete —
 * own and foreign ids — and `search_documents` runs (the researcher agent) with the user's own
 * words and with another user's document word: passages and citations are only ever the user's.
 */
import { expectNotFound, expectStatus } from '../client'
import { FuzzFailure } from '../world'
import { sendChat } from './chat'
import { expectListedAreLive, listAll } from './list'
import { label, ownOrForeignWord } from './pick'
import type { FuzzOp, StepContext } from './types'
import { deleteKept, type KeptOf, pickKept } from './shapes'

const DOCUMENTS: KeptOf = (user) => user.documents
const ref = pickKept(DOCUMENTS)

export async function createDocument(ctx: StepContext): Promise<string> {
  const { actor, world } = ctx
  const name = world.content(actor, 'document')
  const text = [
    `${world.content(actor, 'passage')} The ${actor.docWord} report covers the northern warehouse and its quarterly inventory.`,
    `${world.content(actor, 'passage')} Shipping times for ${actor.docWord} improved after the new routing rules.`,
  ].join('\n\n')
  const answer = await ctx.http('POST', '/api/documents', { body: { name, text } })
  if (answer.status === 429 && answer.json.error.code === 'too_many_documents') return 'too-many'
  expectStatus(answer, 202)
  ctx.world.own(answer.json.document.id, actor.index, 'id')
  actor.documents.live.set(answer.json.document.id, { name })
  return 'own'
}

export const documentOps: FuzzOp[] = [
  { name: 'documents.create', weight: 1, run: createDocument },
  {
    name: 'documents.list',
    weight: 1,
    async run(ctx) {
      const { items, where } = await listAll(ctx, '/api/documents', 'documents')
      const listed = new Map<string, unknown>(items.map((d: any) => [d.id, d.name]))
      expectListedAreLive(where, 'document', ctx.actor, listed, ctx.actor.documents.live, (model) => model.name)
      return 'own'
    },
  },
  {
    name: 'documents.get',
    weight: 2,
    async run(ctx) {
      const r = ref(ctx)
      const answer = await ctx.http('GET', `/api/documents/${r.id}`)
      if (!r.mine) return (expectNotFound(answer), label(ctx, r))
      expectStatus(answer, 200)
      if (answer.json.document.id !== r.id || answer.json.document.name !== ctx.actor.documents.live.get(r.id)!.name)
        throw new FuzzFailure(`${answer.where}: not the document the model expects: ${answer.text.slice(0, 200)}`)
      if (answer.json.document.status === 'failed')
        throw new FuzzFailure(`${answer.where}: ingestion failed: ${answer.json.document.error}`)
      return `own-${answer.json.document.status}`
    },
  },
  deleteKept('documents.delete', 1, DOCUMENTS, (id) => `/api/documents/${id}`),
  {
    name: 'ws.chat-documents',
    weight: 2,
    async run(ctx) {
      // The query is the actor's own word, a word every user's documents share, or (hostile) a
      // word only the target's documents contain: passages must be the actor's in every case
      // (checked once the run ends: runner.ts › settle).
      const { foreign, word: query } = ownOrForeignWord(ctx, ctx.target.docWord, [
        ctx.actor.docWord,
        'warehouse inventory',
        'routing',
      ])
      const viaTriage = ctx.rand.bool(0.3)
      const call = `#call search_documents ${JSON.stringify({ query, limit: ctx.rand.pick([3, 5, 20]) })}`
      const content = [
        ctx.world.content(ctx.actor, 'question'),
        ...(viaTriage ? ['#call transfer_to_researcher {"reason":"documents"}'] : []),
        call,
      ].join('\n')
      const result = await sendChat(ctx, { content, agent: viaTriage ? undefined : 'researcher' })
      if (result.error === 'too_many_runs') return 'too-many-runs'
      if (result.error) throw new FuzzFailure(`a document chat of user ${ctx.actor.index} was refused: ${result.error}`)
      if (!ctx.actor.threads.has(result.threadId!)) ctx.actor.threads.set(result.threadId!, { title: '' })
      ctx.actor.runs.set(result.runId!, {
        threadId: result.threadId!,
        expect: { tool: 'search_documents', ok: true, ownDocuments: true },
        finished: false,
      })
      return foreign ? 'foreign-word' : 'own'
    },
  },
]
