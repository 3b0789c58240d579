/**
 * Answers from documents with checked citations (PROTOCOL.md §8), over a real server, a real
 * WebSocket and the scripted Ollama: triage hands document questions to the researcher, the
 * passages a run retrieves are numbered 1, 2, … (a passage seen again keeps its number), and
 * the completed (and stored) answer keeps only markers of passages this run retrieved for this
 * user, each with a server-chosen verbatim quote.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { startChatStack, lastUserText, type ChatStack } from '../../support/chat-stack'
import { demoBrain } from '../../support/demo-brain'
import type { ChatHandler, Reply } from '../../support/fake-ollama'
import { seqProblem, streamedText, type Frame } from '../../support/ws-client'
import { addTextDocument } from '../../support/documents'

setDefaultTimeout(30_000)

let stack: ChatStack
/** Per-test scripted model; the demo brain unless a test sets its own. */
let script: ChatHandler = demoBrain

beforeAll(async () => {
  stack = await startChatStack({ handler: (req, info) => script(req, info) })
})
afterAll(() => stack.close())

const LIGHTHOUSE = [
  'The Fastnet lighthouse stands on a rock eleven kilometres off the coast of Cork.',
  'Its granite tower was finished in 1904 and rises fifty-four metres above the sea.',
  '',
  'Keepers lived in the tower in shifts of four weeks until the light was automated in 1989.',
].join('\n')

const toolResults = (events: Frame[], tool: string) =>
  events.filter((e) => e.type === 'tool_completed' && e.tool === tool)

describe('the researcher answers with citations', () => {
  test('triage hands a document question to the researcher; its answer cites numbered passages with verbatim quotes, also in GET …/messages', async () => {
    script = demoBrain
    const { user, ws } = await stack.userWithSocket('cite-alice')
    const doc = await addTextDocument(stack.server, user, 'fastnet.md', LIGHTHOUSE)
    // Another user holds a document with the very same words.
    const { user: mallory } = await stack.userWithSocket('cite-mallory')
    const planted = await addTextDocument(stack.server, mallory, 'fastnet-copy.md', LIGHTHOUSE)

    const { runId, threadId } = await ws.chat('What do my documents say about the Fastnet lighthouse tower?')
    const events = await ws.completion(runId)
    expect(seqProblem(events)).toBeUndefined()
    expect(events.find((e) => e.type === 'agent_handoff')).toMatchObject({ from: 'triage', to: 'researcher' })

    const [search] = toolResults(events, 'search_documents')
    expect(search.ok).toBe(true)
    const passages = search.result.passages
    expect(passages.length).toBeGreaterThan(0)
    expect(passages.map((p: any) => p.n)).toEqual(passages.map((_: unknown, i: number) => i + 1))
    expect(passages.every((p: any) => p.documentId === doc.id)).toBe(true)
    // The model saw the same numbers.
    const researcherCall = stack.ollama.requests.findLast((r) =>
      r.messages.some((m: any) => m.role === 'tool' && m.tool_name === 'search_documents'),
    )!
    const seen = JSON.parse(researcherCall.messages.findLast((m: any) => m.tool_name === 'search_documents').content)
    expect(seen.passages.map((p: any) => p.n)).toEqual(passages.map((p: any) => p.n))

    const done = events.at(-1)!
    expect(done).toMatchObject({ type: 'agent_completed', status: 'completed', agent: 'researcher' })
    const { content, citations } = done.message
    expect(citations.length).toBeGreaterThan(0)
    for (const c of citations) {
      expect(content).toContain(`[${c.n}]`)
      const passage = passages.find((p: any) => p.n === c.n)
      expect(c).toMatchObject({ documentId: doc.id, documentName: 'fastnet.md', chunkId: passage.chunkId })
      expect(c.quote.length).toBeGreaterThan(0)
      expect(c.quote.length).toBeLessThanOrEqual(300)
      expect(passage.text).toContain(c.quote)
      expect(c.documentId).not.toBe(planted.id)
    }

    const stored = (await (
      await stack.server.api(`/api/threads/${threadId}/messages`, { token: user.accessToken })
    ).json()) as any
    const answer = stored.messages.at(-1)
    expect(answer).toMatchObject({ role: 'assistant', agent: 'researcher', content, citations })
    ws.close()
  })

  test('markers of numbers the run never returned are removed; a passage returned again keeps its number', async () => {
    const { user, ws } = await stack.userWithSocket('cite-bob')
    await addTextDocument(stack.server, user, 'fastnet.md', LIGHTHOUSE)
    await addTextDocument(stack.server, user, 'kettles.txt', 'A copper kettle boils water faster than a cast iron one.')
    let step = 0
    script = (_req): Reply => {
      step++
      if (step === 1)
        return { toolCalls: [{ name: 'search_documents', arguments: { query: 'granite tower lighthouse', limit: 1 } }] }
      if (step === 2)
        return { toolCalls: [{ name: 'search_documents', arguments: { query: 'copper kettle', limit: 1 } }] }
      if (step === 3)
        return { toolCalls: [{ name: 'search_documents', arguments: { query: 'granite tower lighthouse', limit: 1 } }] }
      return {
        content: 'The tower is granite [1]. Copper kettles are fast [2]. Moon bases exist [7]. Both [1, 9]. Also [3].',
        chunkSize: 5,
      }
    }
    const { runId, threadId } = await ws.chat('tell me about towers and kettles', { agent: 'researcher' })
    const events = await ws.completion(runId)
    const results = toolResults(events, 'search_documents').map((e) =>
      e.result.passages.map((p: any) => ({ n: p.n, chunkId: p.chunkId })),
    )
    expect(results).toHaveLength(3)
    expect(results[0][0].n).toBe(1)
    expect(results[1][0].n).toBe(2)
    // The first passage again: same chunk, same number.
    expect(results[2][0]).toEqual(results[0][0])

    const done = events.at(-1)!
    // The streamed text still has what the model wrote; the completed and stored answer does not.
    expect(streamedText(events)).toContain('[7]')
    expect(done.message.content).toBe(
      'The tower is granite [1]. Copper kettles are fast [2]. Moon bases exist. Both [1]. Also.',
    )
    expect(done.message.citations.map((c: any) => c.n)).toEqual([1, 2])
    expect(done.message.citations[1].quote).toBe('A copper kettle boils water faster than a cast iron one.')
    const stored = (await (
      await stack.server.api(`/api/threads/${threadId}/messages`, { token: user.accessToken })
    ).json()) as any
    expect(stored.messages.at(-1).content).toBe(done.message.content)
    expect(stored.messages.at(-1).citations).toEqual(done.message.citations)
    ws.close()
  })

  test('a run that never searched keeps no citation markers; a passage deleted before the answer is not cited', async () => {
    const { user, ws } = await stack.userWithSocket('cite-carol')
    // No search at all: invented markers go.
    script = () => ({ content: 'Invented source [1] and another [2].' })
    const first = await ws.chat('cite something', { agent: 'researcher' })
    const plain = (await ws.completion(first.runId)).at(-1)!
    expect(plain.message.content).toBe('Invented source and another.')
    expect(plain.message.citations).toBeUndefined()

    const doc = await addTextDocument(
      stack.server,
      user,
      'temporary.txt',
      'The ferry leaves the harbour at seven every morning.',
    )
    let step = 0
    script = async () => {
      step++
      if (step === 1) return { toolCalls: [{ name: 'search_documents', arguments: { query: 'ferry harbour' } }] }
      // The document is deleted after retrieval, before the answer is checked.
      await stack.server.api(`/api/documents/${doc.id}`, { method: 'DELETE', token: user.accessToken })
      return { content: 'The ferry leaves at seven [1].' }
    }
    const second = await ws.chat('when does the ferry leave?', { agent: 'researcher' })
    const done = (await ws.completion(second.runId)).at(-1)!
    expect(done.message.content).toBe('The ferry leaves at seven.')
    expect(done.message.citations).toEqual([])
    ws.close()
  })
})

describe('isolation', () => {
  test("another user's document with the same words never reaches retrieval, tool results, citations or the documents API", async () => {
    const { user: owner, ws: ownerWs } = await stack.userWithSocket('iso-owner')
    const { user: other, ws: otherWs } = await stack.userWithSocket('iso-other')
    const secret = 'The vault combination is written under the blue ceramic owl in the attic.'
    const planted = await addTextDocument(stack.server, owner, 'secret.txt', secret)

    // The other user asks for exactly those words, through the researcher.
    script = demoBrain
    const { runId, threadId } = await otherWs.chat('According to my documents, where is the vault combination written?')
    const events = await otherWs.completion(runId)
    const search = toolResults(events, 'search_documents')[0]
    expect(search.ok).toBe(true)
    expect(search.result.passages).toEqual([])
    const wire = JSON.stringify(events)
    expect(wire).not.toContain(planted.id)
    expect(wire).not.toContain('ceramic owl')
    expect(events.at(-1)!.message.citations).toEqual([])
    const messages = JSON.stringify(
      await (await stack.server.api(`/api/threads/${threadId}/messages`, { token: other.accessToken })).json(),
    )
    expect(messages).not.toContain('ceramic owl')
    // Nothing reached the model either.
    expect(
      stack.ollama.requests
        .filter((r) => lastUserText(r.messages).includes('vault combination'))
        .some((r) => JSON.stringify(r.messages).includes('ceramic owl')),
    ).toBe(false)
    // The documents API: not listed, not readable, not deletable.
    expect(
      JSON.stringify(await (await stack.server.api('/api/documents', { token: other.accessToken })).json()),
    ).not.toContain(planted.id)
    expect((await stack.server.api(`/api/documents/${planted.id}`, { token: other.accessToken })).status).toBe(404)
    expect(
      (await stack.server.api(`/api/documents/${planted.id}`, { method: 'DELETE', token: other.accessToken })).status,
    ).toBe(404)
    // The owner's own run finds it, so the search itself works.
    const own = await ownerWs.chat('According to my documents, where is the vault combination written?')
    const ownEvents = await ownerWs.completion(own.runId)
    expect(toolResults(ownEvents, 'search_documents')[0].result.passages[0].documentId).toBe(planted.id)
    ownerWs.close()
    otherWs.close()
  })
})
