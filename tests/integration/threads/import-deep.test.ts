/**
 * A ChatGPT import whose `mapping` is deep (PROTOCOL.md §6), over a real server with the default
 * 25 MB body limit: 20,000 nodes without messages in one chain, one question halfway down it,
 * and 2,500 questions under its last node, each answered through a node without a message.
 * Every kept message must hang under its nearest kept ancestor. (How long such an import takes
 * is measured outside the tests; src/threads/import.ts walks each node once.)
 */
import { test, expect, setDefaultTimeout } from 'bun:test'
import { expectJson } from '../../support/http'
import { useTestServer } from '../../support/fixtures'

setDefaultTimeout(60_000)

const {
  server,
  users: [user],
} = useTestServer({ users: ['deep'] })

const DEPTH = 20_000
const QUESTIONS = 2_500
const at = (n: number) => 1_700_000_000 + n

function deepConversation() {
  const mapping: Record<string, unknown> = {}
  const text = (role: string, content: string, time: number) => ({
    author: { role },
    create_time: time,
    content: { content_type: 'text', parts: [content] },
  })
  for (let i = 0; i < DEPTH; i++)
    mapping[`c${i}`] = {
      parent: i ? `c${i - 1}` : null,
      message: i === DEPTH / 2 ? text('user', 'halfway', at(0)) : null,
    }
  for (let i = 0; i < QUESTIONS; i++) {
    mapping[`q${i}`] = { parent: `c${DEPTH - 1}`, message: text('user', `question ${i}`, at(1 + 2 * i)) }
    mapping[`e${i}`] = { parent: `q${i}`, message: null }
    mapping[`a${i}`] = { parent: `e${i}`, message: text('assistant', `answer ${i}`, at(2 + 2 * i)) }
  }
  return [{ title: 'Deep', create_time: at(0), mapping, current_node: `a${QUESTIONS - 1}` }]
}

test('a 20,000-node chain imports with every message under its nearest kept ancestor', async () => {
  const body = JSON.stringify(deepConversation())
  expect(body.length).toBeLessThan(25 * 1024 * 1024)
  const res = await fetch(`${server.url}/api/threads/import`, {
    method: 'POST',
    headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/json' },
    body,
  })
  const { threads } = await expectJson(res, 201)
  expect(threads).toEqual([{ id: expect.any(String), title: 'Deep' }])
  const threadId = threads[0].id

  // The whole tree, as the export reads it back.
  const exported: any = await expectJson(
    await server.api(`/api/threads/${threadId}/export`, { token: user.accessToken }),
  )
  expect(exported.messages.length).toBe(1 + 2 * QUESTIONS)
  const byContent = new Map<string, any>(exported.messages.map((m: any) => [m.content, m]))
  const halfway = byContent.get('halfway')
  expect(halfway.parentId).toBeNull()
  const misplaced = []
  for (let i = 0; i < QUESTIONS; i++) {
    const q = byContent.get(`question ${i}`)
    const a = byContent.get(`answer ${i}`)
    if (
      q?.parentId !== halfway.id ||
      a?.parentId !== q.id ||
      a.createdAt !== new Date(at(2 + 2 * i) * 1000).toISOString()
    )
      misplaced.push(i)
  }
  expect(misplaced).toEqual([])
  expect(exported.thread.currentLeafId).toBe(byContent.get(`answer ${QUESTIONS - 1}`).id)

  // The default branch is current_node's, and the halfway question has every question below it.
  const branch = (await expectJson(await server.api(`/api/threads/${threadId}/messages`, { token: user.accessToken })))
    .messages
  expect(branch.map((m: any) => m.content)).toEqual(['halfway', `question ${QUESTIONS - 1}`, `answer ${QUESTIONS - 1}`])
  expect(branch[1].siblingIds.length).toBe(QUESTIONS)
})
