/**
 * Export and import (PROTOCOL.md §6) over a real server: JSON with every branch, Markdown of
 * the current branch, a round trip that keeps the tree, times and default branch, a ChatGPT
 * `conversations.json` (tests/fixtures/chatgpt-conversations.json, hand-written in the shape of
 * a real ChatGPT data export: a null root, hidden system/context nodes, an edited question,
 * a multimodal part, a python tool call), 400 `invalid_import` that writes nothing, and 413.
 */
import { test, expect, describe, setDefaultTimeout } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { registerUser, type TestUser } from '../../support/users'
import { expectError, expectJson } from '../../support/http'
import { asUser, rowsOwned } from '../../support/db'
import { useTestServer } from '../../support/fixtures'

setDefaultTimeout(30_000)

const chatgpt = readFileSync(join(import.meta.dir, '../../fixtures/chatgpt-conversations.json'), 'utf8')

const {
  server,
  users: [user],
} = useTestServer({ env: { IMPORT_MAX_BYTES: String(64 * 1024) }, users: ['porter'] })

const api = (path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
  server.api(path, { token: user.accessToken, ...init })
const importBody = (body: string, token = user.accessToken) =>
  fetch(`${server.url}/api/threads/import`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body,
  })
const owned = (table: 'threads' | 'messages') => rowsOwned(server.services.database, table, user.id)
const branch = async (threadId: string, leaf?: string) =>
  (await expectJson(await api(`/api/threads/${threadId}/messages${leaf ? `?leaf=${leaf}` : ''}`))).messages as any[]

/** A thread with two branches: q1 → a1 → (q2 → a2 | q2b → a2b); the current branch is the second. */
async function branchedThread(owner: TestUser = user, title = 'Branchy: a/b?') {
  const thread = (
    await expectJson(await server.api('/api/threads', { token: owner.accessToken, body: { title } }), 201)
  ).thread
  const add = server.services.repos.messages.add
  const ids = await asUser(owner, async () => {
    const q1 = await add({ threadId: thread.id, role: 'user', content: 'question one' })
    const a1 = await add({ threadId: thread.id, role: 'assistant', content: 'answer one', agent: 'triage' })
    const q2 = await add({ threadId: thread.id, role: 'user', content: 'question two' })
    const a2 = await add({
      threadId: thread.id,
      role: 'assistant',
      content: 'half an ans',
      status: 'cancelled',
      error: { code: 'cancelled', message: 'the run was cancelled' },
    })
    const q2b = await add({ threadId: thread.id, role: 'user', content: 'question two, better', parentId: a1.id })
    const a2b = await add({
      threadId: thread.id,
      role: 'assistant',
      content: '```js\nconsole.log(2)\n```',
      agent: 'planner',
    })
    return { q1, a1, q2, a2, q2b, a2b }
  })
  return { thread, ids }
}

describe('export', () => {
  test('JSON holds every branch and the current leaf, as a download', async () => {
    const { thread, ids } = await branchedThread()
    const res = await api(`/api/threads/${thread.id}/export?format=json`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="branchy-a-b.json"')
    expect(res.headers.get('content-type')).toContain('application/json')
    const doc: any = await res.json()
    expect(doc).toMatchObject({
      format: 'local-chat-thread',
      version: 1,
      thread: { id: thread.id, title: 'Branchy: a/b?', currentLeafId: ids.a2b.id },
    })
    expect(doc.messages.map((m: any) => m.content)).toEqual([
      'question one',
      'answer one',
      'question two',
      'half an ans',
      'question two, better',
      '```js\nconsole.log(2)\n```',
    ])
    expect(doc.messages[3]).toMatchObject({ status: 'cancelled', error: { code: 'cancelled' }, parentId: ids.q2.id })
    // The default is JSON too.
    expect(((await (await api(`/api/threads/${thread.id}/export`)).json()) as any).messages.length).toBe(6)
  })

  test('Markdown is the current branch only', async () => {
    const { thread } = await branchedThread()
    const res = await api(`/api/threads/${thread.id}/export?format=markdown`)
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="branchy-a-b.md"')
    const text = await res.text()
    expect(text.startsWith('# Branchy: a/b?\n')).toBe(true)
    expect(text).toContain('question one')
    expect(text).toContain('question two, better')
    expect(text).toContain('```js\nconsole.log(2)\n```')
    expect(text).not.toContain('half an ans')
    expect(text.indexOf('## You')).toBeLessThan(text.indexOf('## Assistant'))
  })

  test("another user's thread, an unknown format or no token are refused", async () => {
    const { thread } = await branchedThread()
    const other = await registerUser(server, 'other')
    await expectError(
      await server.api(`/api/threads/${thread.id}/export`, { token: other.accessToken }),
      404,
      'not_found',
    )
    await expectError(await api(`/api/threads/${thread.id}/export?format=pdf`), 400)
    await expectError(await server.api(`/api/threads/${thread.id}/export`), 401)
  })
})

describe('import', () => {
  test('our JSON round-trips: same tree, times, outcomes and default branch, new ids', async () => {
    const { thread, ids } = await branchedThread()
    const exported = await (await api(`/api/threads/${thread.id}/export`)).text()
    const res = await importBody(exported)
    const { threads } = await expectJson(res, 201)
    expect(threads).toEqual([{ id: expect.any(String), title: 'Branchy: a/b?' }])
    const copy = threads[0].id
    expect(copy).not.toBe(thread.id)
    const original = await branch(thread.id)
    const imported = await branch(copy)
    const shape = (ms: any[]) =>
      ms.map((m) => ({
        role: m.role,
        content: m.content,
        createdAt: m.createdAt,
        agent: m.agent,
        status: m.status,
        error: m.error,
        siblings: m.siblingIds.length,
      }))
    expect(shape(imported)).toEqual(shape(original))
    expect(imported.map((m) => m.id)).not.toContain(ids.q1.id)
    // The other branch came along too.
    const otherLeaf = imported[2].siblingIds.find((id: string) => id !== imported[2].id)
    expect(otherLeaf).toBeDefined()
    const exportedAgain: any = await (await api(`/api/threads/${copy}/export`)).json()
    expect(exportedAgain.messages.length).toBe(6)
  })

  test('GET /api/me/export imports back whole, as its owner and as another user: every thread, branch and message', async () => {
    const owner = await registerUser(server, 'exporter')
    const as = (who: TestUser) => (path: string) => server.api(path, { token: who.accessToken })
    await branchedThread(owner, 'First, with a cancelled answer')
    await branchedThread(owner, 'Second, the same tree')
    const failed = (
      await expectJson(await server.api('/api/threads', { token: owner.accessToken, body: { title: 'Cited' } }), 201)
    ).thread
    await asUser(owner, async () => {
      const add = server.services.repos.messages.add
      const q = await add({ threadId: failed.id, role: 'user', content: 'what does the manual say?' })
      await add({
        threadId: failed.id,
        role: 'assistant',
        content: 'It says to wait [1].',
        agent: 'researcher',
        citations: [{ n: 1, documentId: 'doc-1', documentName: 'manual.pdf', chunkId: 'chunk-9', quote: 'wait.' }],
      })
      await add({
        threadId: failed.id,
        role: 'assistant',
        content: '',
        parentId: q.id,
        status: 'failed',
        error: { code: 'model_unavailable', message: 'the model is not answering' },
      })
    })
    await expectJson(await server.api('/api/threads', { token: owner.accessToken, body: { title: 'Empty' } }), 201)

    const exportRes = await as(owner)('/api/me/export')
    const exportText = await exportRes.text()
    const doc = JSON.parse(exportText)
    expect(doc.threads.length).toBe(4)
    // Each entry is exactly the thread's own export (one shape, one builder).
    for (const entry of doc.threads) {
      const own: any = await expectJson(await as(owner)(`/api/threads/${entry.thread.id}/export`))
      expect(entry).toEqual({ ...own, exportedAt: expect.any(String) })
    }

    /** A thread export without ids: each message names its parent and the leaf by content. */
    const shape = (e: any) => {
      const contentOf = new Map(e.messages.map((m: any) => [m.id, `${m.role}:${m.content}`]))
      return {
        title: e.thread.title,
        createdAt: e.thread.createdAt,
        updatedAt: e.thread.updatedAt,
        leaf: e.thread.currentLeafId ? contentOf.get(e.thread.currentLeafId) : null,
        messages: e.messages
          .map((m: any) => ({
            role: m.role,
            content: m.content,
            agent: m.agent,
            status: m.status,
            error: m.error,
            citations: m.citations,
            createdAt: m.createdAt,
            parent: m.parentId ? contentOf.get(m.parentId) : null,
          }))
          .sort((a: any, b: any) =>
            a.createdAt === b.createdAt
              ? (a.role + a.content).localeCompare(b.role + b.content)
              : a.createdAt < b.createdAt
                ? -1
                : 1,
          ),
      }
    }
    const originals = doc.threads.map(shape)
    expect(originals.map((t: any) => t.messages.length)).toEqual([6, 6, 3, 0])
    expect(originals[2].messages).toContainEqual(
      expect.objectContaining({ status: 'failed', error: expect.objectContaining({ code: 'model_unavailable' }) }),
    )
    expect(originals[2].messages).toContainEqual(
      expect.objectContaining({ citations: [expect.objectContaining({ documentName: 'manual.pdf' })] }),
    )

    const heir = await registerUser(server, 'heir')
    for (const who of [owner, heir]) {
      const { threads } = await expectJson(await importBody(exportText, who.accessToken), 201)
      expect(threads.map((t: any) => t.title)).toEqual(doc.threads.map((e: any) => e.thread.title))
      const copies = await Promise.all(
        threads.map(async (t: any) => expectJson(await as(who)(`/api/threads/${t.id}/export`))),
      )
      expect(copies.map(shape)).toEqual(originals)
      // The default branch reads the same through the messages API.
      const firstCopy = (await expectJson(await as(who)(`/api/threads/${threads[0].id}/messages`))).messages
      const firstOriginal = (await expectJson(await as(owner)(`/api/threads/${doc.threads[0].thread.id}/messages`)))
        .messages
      expect(firstCopy.map((m: any) => [m.content, m.siblingIds.length])).toEqual(
        firstOriginal.map((m: any) => [m.content, m.siblingIds.length]),
      )
    }
    // The other user's own export now holds the same threads, and imports back the same again.
    const heirDoc = await expectJson(await as(heir)('/api/me/export'))
    expect(heirDoc.threads.map(shape)).toEqual(originals)
  })

  test('a ChatGPT conversations.json: branches kept, current_node is the default branch, original times', async () => {
    const before = await owned('threads')
    const { threads } = await expectJson(await importBody(chatgpt), 201)
    expect(threads.map((t: any) => t.title)).toEqual(['Sourdough starter smells odd', 'Receipt total'])
    expect(await owned('threads')).toBe(before + 2)

    const sourdough = await branch(threads[0].id)
    expect(sourdough.map((m) => `${m.role}:${m.content.slice(0, 20)}`)).toEqual([
      'user:My sourdough starter',
      'assistant:Not dead — hungry. A',
      'user:How warm should I ke',
      'assistant:Around 24–26 °C. Coo',
    ])
    expect(sourdough[0].parentId).toBeNull() // the hidden system node and the null root are gone
    expect(sourdough[0].createdAt).toBe(new Date(Math.round(1716307205.123456 * 1000)).toISOString())
    expect(sourdough[2].siblingIds.length).toBe(2)
    const other = await branch(threads[0].id, (await branch(threads[0].id)).at(-1)!.id)
    expect(other.length).toBe(4)
    const editedAway = sourdough[2].siblingIds.find((id: string) => id !== sourdough[2].id)
    const path = await branch(threads[0].id, editedAway)
    expect(path.map((m) => m.content)).toEqual([sourdough[0].content, sourdough[1].content, 'What flour should I use?'])

    const receipt = await branch(threads[1].id)
    expect(receipt.map((m) => m.role)).toEqual(['user', 'assistant'])
    expect(receipt[0].content).toBe('[image]\nHere is my receipt. What did I spend on food in total?')
    expect(receipt[1]).toMatchObject({
      content: 'You spent **€44.25** on food: 12.40 + 8.75 + 23.10.',
      status: 'completed',
    })
    const listed = (await expectJson(await api('/api/threads?limit=200'))).threads
    expect(listed.find((t: any) => t.id === threads[1].id).createdAt).toBe(new Date(1718000000500).toISOString())
  })

  test('a ChatGPT mapping whose parent links loop is 400 invalid_import and writes nothing', async () => {
    const question = { author: { role: 'user' }, create_time: 1, content: { parts: ['are we there yet?'] } }
    const loops = [
      // Above a kept message, through nodes without messages.
      { q: { parent: 'e1', message: question }, e1: { parent: 'e2' }, e2: { parent: 'e1' } },
      // A node its own parent, below nothing kept.
      { q: { parent: null, message: question }, self: { parent: 'self' } },
    ]
    const threads0 = await owned('threads')
    const messages0 = await owned('messages')
    for (const mapping of loops) {
      // The valid first conversation of the fixture must not land either.
      const body = JSON.stringify([JSON.parse(chatgpt)[0], { title: 'loop', mapping }])
      const { error } = await expectError(await importBody(body), 400, 'invalid_import')
      expect(error.message).toBe('/1/mapping: the parent links form a loop')
    }
    expect(await owned('threads')).toBe(threads0)
    expect(await owned('messages')).toBe(messages0)
  })

  test('a time outside the years 0000–9999 is 400 invalid_import, writes nothing, and every read still works', async () => {
    const chatgptWith = (change: (c: any[]) => void) => {
      const c = JSON.parse(chatgpt)
      change(c)
      return JSON.stringify(c)
    }
    const ours = (change: (doc: any) => void) => {
      const doc = {
        thread: { title: 'Far away', createdAt: '2026-01-01T00:00:00.000Z' },
        messages: [
          { id: 'q', parentId: null, role: 'user', content: 'far away', createdAt: '2026-01-01T00:00:01.000Z' },
        ],
      }
      change(doc)
      return JSON.stringify(doc)
    }
    const threads0 = await owned('threads')
    const messages0 = await owned('messages')
    const cases: [string, string][] = [
      [
        chatgptWith((c) => {
          c[1].mapping['u1-7c3e-4a1b-8d2f-000000000029'].message.create_time = 1e300
        }),
        '/1/mapping/u1-7c3e-4a1b-8d2f-000000000029/message/create_time: 1e+300 is not a date between 0000-01-01 and 9999-12-31',
      ],
      [
        chatgptWith((c) => {
          c[0].create_time = -1e15
        }),
        '/0/create_time: -1000000000000000 is not a date between 0000-01-01 and 9999-12-31',
      ],
      [
        chatgptWith((c) => {
          c[1].update_time = 253402300800 // 10000-01-01
        }),
        '/1/update_time: 253402300800 is not a date between 0000-01-01 and 9999-12-31',
      ],
      [
        ours((doc) => {
          doc.thread.createdAt = '+275760-09-13T00:00:00.000Z' // the last time JavaScript has
        }),
        '/thread/createdAt: "+275760-09-13T00:00:00.000Z" is not a date between 0000-01-01 and 9999-12-31',
      ],
      [
        ours((doc) => {
          doc.messages[0].createdAt = '+010000-01-01T00:00:00.000Z'
        }),
        '/messages/0/createdAt: "+010000-01-01T00:00:00.000Z" is not a date between 0000-01-01 and 9999-12-31',
      ],
      [
        JSON.stringify({
          threads: [
            JSON.parse(ours(() => {})),
            JSON.parse(
              ours((doc) => {
                doc.thread.updatedAt = '-000001-12-31T23:59:59.999Z'
              }),
            ),
          ],
        }),
        '/threads/1/thread/updatedAt: "-000001-12-31T23:59:59.999Z" is not a date between 0000-01-01 and 9999-12-31',
      ],
    ]
    for (const [body, message] of cases) {
      const { error } = await expectError(await importBody(body), 400, 'invalid_import')
      expect(error.message).toBe(message)
    }
    expect(await owned('threads')).toBe(threads0)
    expect(await owned('messages')).toBe(messages0)
    // The edges themselves are dates, and everything that writes times out still answers.
    const edges = ours((doc) => {
      doc.thread.createdAt = '0000-01-01T00:00:00.000Z'
      doc.messages[0].createdAt = '9999-12-31T23:59:59.999Z'
    })
    const { threads } = await expectJson(await importBody(edges), 201)
    expect((await branch(threads[0].id))[0].createdAt).toBe('9999-12-31T23:59:59.999Z')
    for (const path of ['/api/threads?limit=200', '/api/me/export', '/api/search?q=far'])
      expect((await api(path)).status).toBe(200)
  })

  test('anything else is 400 invalid_import, saying what is wrong, and writes nothing', async () => {
    const fixture = JSON.parse(chatgpt)
    const brokenSecond = structuredClone(fixture)
    brokenSecond[1].mapping = 'not a tree'
    const badParent = JSON.parse(await (await api(`/api/threads/${(await branchedThread()).thread.id}/export`)).text())
    badParent.messages[2].parentId = 'nobody'
    const loop = structuredClone(badParent)
    loop.messages[2].parentId = loop.messages[3].id
    loop.messages[0].parentId = null
    const threads0 = await owned('threads')
    const messages0 = await owned('messages')
    const cases: [string, RegExp][] = [
      ['not json at all', /not valid JSON/],
      ['{"hello":"world"}', /expected a thread export/],
      ['[]', /empty/],
      ['[{"title":"x"}]', /ChatGPT.*mapping/],
      [JSON.stringify(brokenSecond), /\/1\/mapping/],
      [JSON.stringify(badParent), /parentId/],
      [JSON.stringify(loop), /loop/],
      ['{"threads":[{"thread":{"title":"t"},"messages":[]}]}', /account export.*createdAt/],
      ['"just a string"', /expected/],
      ['null', /expected/],
    ]
    for (const [body, why] of cases) {
      const { error } = await expectError(await importBody(body), 400, 'invalid_import')
      expect(error.message).toMatch(why)
    }
    // Nothing half-written: the valid first conversation of brokenSecond did not land.
    expect(await owned('threads')).toBe(threads0)
    expect(await owned('messages')).toBe(messages0)
  })

  test('over IMPORT_MAX_BYTES is 413, declared or streamed; no token is 401', async () => {
    const big = JSON.stringify([{ title: 'big', mapping: {}, padding: 'x'.repeat(70 * 1024) }])
    await expectError(await importBody(big), 413, 'payload_too_large')
    const chunked = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 80; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(1024)))
        controller.close()
      },
    })
    const res = await fetch(`${server.url}/api/threads/import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/json' },
      body: chunked,
    })
    await expectError(res, 413, 'payload_too_large')
    await expectError(await server.api('/api/threads/import', { body: chatgpt }), 401)
  })
})
