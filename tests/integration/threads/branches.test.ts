/**
 * The message tree and kept outcomes (PROTOCOL.md §6) over a real server, a real WebSocket and
 * the scripted Ollama: edit and resend, regenerate, `?leaf=`, `siblingIds`, the model seeing
 * only its branch, and cancelled/failed answers keeping their status, error and streamed text.
 */
import { test, expect, describe, beforeAll, afterAll, setDefaultTimeout } from 'bun:test'
import { startChatStack, lastUserText, type ChatStack } from '../../support/chat-stack'
import { expectJson } from '../../support/http'
import { startTestServer } from '../../support/server'
import { registerUser, type TestUser } from '../../support/users'
import { WsClient, type Frame } from '../../support/ws-client'

setDefaultTimeout(30_000)

let stack: ChatStack
let user: TestUser
let ws: WsClient

beforeAll(async () => {
  stack = await startChatStack()
  ;({ user, ws } = await stack.userWithSocket('branches'))
})
afterAll(async () => {
  await stack?.close()
})

const api = (path: string) => stack.server.api(path, { token: user.accessToken })
const branch = async (threadId: string, leaf?: string) =>
  (await expectJson(await api(`/api/threads/${threadId}/messages${leaf ? `?leaf=${leaf}` : ''}`))).messages as any[]

/** Sends a frame that starts a run and waits for the run's end. */
async function run(
  client: WsClient,
  frame: Record<string, unknown>,
): Promise<{ runId: string; threadId: string; completed: Frame }> {
  const requestId = crypto.randomUUID()
  client.send({ requestId, ...frame })
  const accepted = await client.waitFor(
    (f) => (f.type === 'run_accepted' || f.type === 'error') && f.requestId === requestId,
  )
  if (accepted.type === 'error') throw new Error(`${accepted.code}: ${accepted.message}`)
  const completed = await client.waitFor((f) => f.type === 'agent_completed' && f.runId === accepted.runId)
  return { runId: accepted.runId, threadId: accepted.threadId, completed }
}

/** The messages (role + content, system prompt left out) the model was sent for the run whose last user message is `text`. */
function modelSaw(text: string) {
  const request = [...stack.ollama.requests].reverse().find((r) => lastUserText(r.messages) === text)
  return request!.messages.filter((m: any) => m.role !== 'system').map((m: any) => `${m.role}:${m.content}`)
}

async function refused(client: WsClient, frame: Record<string, unknown>): Promise<Frame> {
  const requestId = crypto.randomUUID()
  client.send({ requestId, ...frame })
  const answer = await client.waitFor(
    (f) => (f.type === 'run_accepted' || f.type === 'error') && f.requestId === requestId,
  )
  expect(answer.type).toBe('error')
  return answer
}

describe('branches', () => {
  test('a chain, then edit and resend makes a sibling branch; ?leaf= reads the old one', async () => {
    const first = await run(ws, { type: 'chat', content: 'one' })
    const threadId = first.threadId
    await run(ws, { type: 'chat', content: 'two', threadId })
    const chain = await branch(threadId)
    expect(chain.map((m) => `${m.role}:${m.content}`)).toEqual([
      'user:one',
      'assistant:echo: one',
      'user:two',
      'assistant:echo: two',
    ])
    expect(chain.map((m) => m.parentId)).toEqual([null, chain[0].id, chain[1].id, chain[2].id])
    for (const m of chain) expect(m.siblingIds).toEqual([m.id])
    expect(chain[1]).toMatchObject({ status: 'completed' })
    expect(chain[1].error).toBeUndefined()

    // Edit "two": a new user message after the parent of the old one.
    await run(ws, { type: 'chat', content: 'two, edited', threadId, parentId: chain[1].id })
    const edited = await branch(threadId)
    expect(edited.map((m) => m.content)).toEqual(['one', 'echo: one', 'two, edited', 'echo: two, edited'])
    expect(edited[2].siblingIds).toEqual([chain[2].id, edited[2].id])
    expect(edited[2].parentId).toBe(chain[1].id)
    // The model saw the edited branch only: nothing of "two".
    expect(modelSaw('two, edited')).toEqual(['user:one', 'assistant:echo: one', 'user:two, edited'])

    // The old branch is still there, by its leaf; nothing was deleted.
    const old = await branch(threadId, chain[3].id)
    expect(old.map((m) => m.content)).toEqual(['one', 'echo: one', 'two', 'echo: two'])
    expect(old[2].siblingIds).toEqual([chain[2].id, edited[2].id])

    // Continuing the old branch (parentId = its leaf) answers with that branch's memory.
    await run(ws, { type: 'chat', content: 'three', threadId, parentId: chain[3].id })
    expect(modelSaw('three')).toEqual([
      'user:one',
      'assistant:echo: one',
      'user:two',
      'assistant:echo: two',
      'user:three',
    ])
    expect((await branch(threadId)).map((m) => m.content)).toEqual([
      'one',
      'echo: one',
      'two',
      'echo: two',
      'three',
      'echo: three',
    ])
  })

  test('parentId null edits the first message: a second root', async () => {
    const first = await run(ws, { type: 'chat', content: 'root a' })
    await run(ws, { type: 'chat', content: 'root b', threadId: first.threadId, parentId: null })
    const now = await branch(first.threadId)
    expect(now.map((m) => m.content)).toEqual(['root b', 'echo: root b'])
    expect(now[0].parentId).toBeNull()
    expect(now[0].siblingIds.length).toBe(2)
    expect(modelSaw('root b')).toEqual(['user:root b'])
  })

  test('regenerate answers the same user message again, as a sibling, with the same memory', async () => {
    const first = await run(ws, { type: 'chat', content: 'alpha' })
    const threadId = first.threadId
    await run(ws, { type: 'chat', content: 'beta', threadId })
    const before = await branch(threadId)
    const answer = before[3]
    stack.ollama.enqueue({ content: 'another beta answer' })
    const again = await run(ws, { type: 'regenerate', messageId: answer.id })
    expect(again.threadId).toBe(threadId)
    expect(again.completed.message.content).toBe('another beta answer')
    const after = await branch(threadId)
    expect(after.map((m) => m.content)).toEqual(['alpha', 'echo: alpha', 'beta', 'another beta answer'])
    expect(after[3].parentId).toBe(before[2].id)
    expect(after[3].siblingIds).toEqual([answer.id, after[3].id])
    expect(after[2].id).toBe(before[2].id) // no new user message
    const lastRequest = stack.ollama.requests
      .at(-1)!
      .messages.filter((m: any) => m.role !== 'system')
      .map((m: any) => m.content)
    expect(lastRequest).toEqual(['alpha', 'echo: alpha', 'beta'])
  })

  test('unknown, foreign or misplaced messages are refused and change nothing', async () => {
    const other = await stack.userWithSocket('stranger')
    const mine = await run(ws, { type: 'chat', content: 'private' })
    const myMessages = await branch(mine.threadId)
    expect((await refused(other.ws, { type: 'regenerate', messageId: myMessages[1].id })).code).toBe('not_found')
    expect((await refused(other.ws, { type: 'chat', content: 'sneak', parentId: myMessages[1].id })).code).toBe(
      'not_found',
    )
    expect((await refused(ws, { type: 'regenerate', messageId: crypto.randomUUID() })).code).toBe('not_found')
    expect((await refused(ws, { type: 'regenerate' })).code).toBe('missing_field')
    expect((await refused(ws, { type: 'chat', content: 'x', parentId: 42 })).code).toBe('invalid_field')
    const elsewhere = await run(ws, { type: 'chat', content: 'another thread' })
    expect(
      (await refused(ws, { type: 'chat', content: 'x', threadId: elsewhere.threadId, parentId: myMessages[1].id }))
        .code,
    ).toBe('not_found')
    expect(await branch(mine.threadId)).toEqual(myMessages)
    const res = await stack.server.api(`/api/threads/${mine.threadId}/messages?leaf=${myMessages[1].id}`, {
      token: other.user.accessToken,
    })
    expect(res.status).toBe(404)
    // A leaf from another thread of the same user is not found either.
    expect((await api(`/api/threads/${elsewhere.threadId}/messages?leaf=${myMessages[1].id}`)).status).toBe(404)
  })
})

describe('outcomes stay', () => {
  test('a cancelled answer keeps its streamed text, status and error in history', async () => {
    stack.ollama.enqueue({ hangAfter: 'partial answer' })
    const requestId = crypto.randomUUID()
    ws.send({ type: 'chat', requestId, content: 'cancel me' })
    const accepted = await ws.waitFor((f) => f.type === 'run_accepted' && f.requestId === requestId)
    await ws.until(
      () =>
        ws
          .eventsOf(accepted.runId)
          .map((e) => e.delta ?? '')
          .join('') === 'partial answer',
    )
    ws.send({ type: 'cancel', runId: accepted.runId })
    const completed = await ws.waitFor((f) => f.type === 'agent_completed' && f.runId === accepted.runId)
    expect(completed).toMatchObject({
      status: 'cancelled',
      message: { content: 'partial answer' },
      error: { code: 'cancelled' },
    })
    const [, answer] = await branch(accepted.threadId)
    expect(answer).toMatchObject({
      role: 'assistant',
      content: 'partial answer',
      status: 'cancelled',
      error: { code: 'cancelled' },
    })
    expect(answer.id).toBe(completed.message.id)
  })

  test('a failed answer (model down) is stored as failed with its error, once', async () => {
    const down = await startTestServer() // OLLAMA_HOST points at nothing
    try {
      const someone = await registerUser(down, 'down')
      const client = await WsClient.connect(down.wsUrl, someone.accessToken)
      try {
        const { threadId, completed } = await run(client, { type: 'chat', content: 'anyone there?' })
        expect(completed).toMatchObject({ status: 'failed', error: { code: 'llm_unavailable' } })
        const messages = (
          await expectJson(await down.api(`/api/threads/${threadId}/messages`, { token: someone.accessToken }))
        ).messages
        expect(messages.map((m: any) => m.role)).toEqual(['user', 'assistant'])
        expect(messages[1]).toMatchObject({
          status: 'failed',
          error: { code: 'llm_unavailable', message: completed.error.message },
          content: '',
        })
      } finally {
        client.close()
      }
    } finally {
      await down.close()
    }
  })
})

describe('switching branches', () => {
  test('?leaf=<sibling>&follow=latest continues that branch to its newest message', async () => {
    const first = await run(ws, { type: 'chat', content: 'base' })
    const threadId = first.threadId
    await run(ws, { type: 'chat', content: 'left', threadId })
    await run(ws, { type: 'chat', content: 'left more', threadId })
    const base = await branch(threadId)
    await run(ws, { type: 'chat', content: 'right', threadId, parentId: base[1].id })
    const right = await branch(threadId)
    const leftQuestion = right[2].siblingIds.find((id: string) => id !== right[2].id)
    const followed = (
      await expectJson(await api(`/api/threads/${threadId}/messages?leaf=${leftQuestion}&follow=latest`))
    ).messages
    expect(followed.map((m: any) => m.content)).toEqual([
      'base',
      'echo: base',
      'left',
      'echo: left',
      'left more',
      'echo: left more',
    ])
    const exact = await branch(threadId, leftQuestion)
    expect(exact.map((m: any) => m.content)).toEqual(['base', 'echo: base', 'left'])
    expect((await api(`/api/threads/${threadId}/messages?follow=sideways&leaf=${leftQuestion}`)).status).toBe(400)
  })
})

describe('racing sends', () => {
  test('two messages sent at once to one thread still form one chain (the parent is settled at write time)', async () => {
    const first = await run(ws, { type: 'chat', content: 'start' })
    const threadId = first.threadId
    const a = crypto.randomUUID()
    const b = crypto.randomUUID()
    ws.send({ type: 'chat', requestId: a, content: 'racer a', threadId })
    ws.send({ type: 'chat', requestId: b, content: 'racer b', threadId })
    for (const id of [a, b]) {
      const accepted = await ws.waitFor((f) => f.type === 'run_accepted' && f.requestId === id)
      await ws.waitFor((f) => f.type === 'agent_completed' && f.runId === accepted.runId)
    }
    const all = (await expectJson(await api(`/api/threads/${threadId}/export`))).messages as any[]
    const users = all.filter((m) => m.role === 'user')
    expect(users.map((m) => m.content)).toEqual(['start', 'racer a', 'racer b'])
    // "racer b" follows whatever was newest when it was written, so the two are never siblings.
    const roots = all.filter((m) => m.parentId === null)
    expect(roots.length).toBe(1)
    const byParent = new Map<string, number>()
    for (const m of all) if (m.parentId) byParent.set(m.parentId, (byParent.get(m.parentId) ?? 0) + 1)
    expect(byParent.get(users[1].parentId)).toBe(1)
    expect(users[2].parentId).not.toBe(users[1].parentId)
  })
})
