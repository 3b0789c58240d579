import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { AppError } from '../http/errors'
import { THREAD_EXPORT_FORMAT } from './export'
import type { ImportedMessage, ImportedThread } from '../db/repositories/threads'

export type { ImportedMessage, ImportedThread }

/**
 * Reads what `POST /api/threads/import` accepts (PROTOCOL.md §6) into one neutral shape:
 * our thread export, an account export (its `threads`), or ChatGPT's `conversations.json`.
 * Everything is checked before anything is written; the first problem is reported.
 */

export class InvalidImportError extends AppError {
  constructor(message: string) {
    super(400, 'invalid_import', message)
  }
}

/** Most threads and messages one import may hold (the byte limit comes first in practice). */
export const IMPORT_MAX_THREADS = 5_000
export const IMPORT_MAX_MESSAGES = 200_000
const TITLE_MAX = 200

// ---- our own export ---------------------------------------------------------------------------

const isoDate = Type.String({ minLength: 10, maxLength: 40 })
const ourMessage = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 200 }),
  parentId: Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()]),
  role: Type.Union([Type.Literal('user'), Type.Literal('assistant'), Type.Literal('system')]),
  content: Type.String(),
  agent: Type.Optional(Type.String({ maxLength: 64 })),
  status: Type.Optional(Type.Union([Type.Literal('completed'), Type.Literal('failed'), Type.Literal('cancelled')])),
  error: Type.Optional(
    Type.Object({ code: Type.String({ maxLength: 100 }), message: Type.String({ maxLength: 2000 }) }),
  ),
  createdAt: isoDate,
})
const ourThread = Type.Object({
  format: Type.Optional(Type.Literal(THREAD_EXPORT_FORMAT)),
  thread: Type.Object({
    title: Type.String({ maxLength: 1000 }),
    createdAt: isoDate,
    updatedAt: Type.Optional(isoDate),
    currentLeafId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  }),
  messages: Type.Array(ourMessage),
})
const accountExport = Type.Object({ threads: Type.Array(ourThread) })

// ---- ChatGPT's conversations.json ------------------------------------------------------------

const chatgptMessage = Type.Object({
  id: Type.Optional(Type.String()),
  author: Type.Object({ role: Type.String() }),
  create_time: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  content: Type.Optional(
    Type.Union([
      Type.Object({
        content_type: Type.Optional(Type.String()),
        parts: Type.Optional(Type.Array(Type.Unknown())),
        text: Type.Optional(Type.String()),
      }),
      Type.Null(),
    ]),
  ),
  metadata: Type.Optional(Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()])),
  recipient: Type.Optional(Type.Union([Type.String(), Type.Null()])),
})
const chatgptNode = Type.Object({
  id: Type.Optional(Type.String()),
  message: Type.Optional(Type.Union([chatgptMessage, Type.Null()])),
  parent: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  children: Type.Optional(Type.Array(Type.String())),
})
const chatgptConversation = Type.Object({
  title: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  create_time: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  update_time: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  mapping: Type.Record(Type.String(), chatgptNode),
  current_node: Type.Optional(Type.Union([Type.String(), Type.Null()])),
})
const chatgptExport = Type.Array(chatgptConversation)

/** The first schema error as "where: what", or undefined when the value fits. */
function problem(schema: TSchema, value: unknown): string | undefined {
  const first = Value.Errors(schema, value).First()
  if (!first) return undefined
  return `${first.path || '(top level)'}: ${first.message}`
}

const toMs = (iso: string, where: string) => {
  const ms = Date.parse(iso)
  if (Number.isNaN(ms)) throw new InvalidImportError(`${where}: "${iso.slice(0, 40)}" is not a date`)
  return ms
}

const titleOf = (title: string | null | undefined) =>
  (title ?? '').replace(/\s+/g, ' ').trim().slice(0, TITLE_MAX) || 'Imported chat'

function fromOurs(value: Static<typeof ourThread>, where: string): ImportedThread {
  const keys = new Set(value.messages.map((m) => m.id))
  if (keys.size !== value.messages.length) throw new InvalidImportError(`${where}/messages: two messages share one id`)
  const messages = value.messages.map((m, i): ImportedMessage => {
    if (m.parentId !== null && !keys.has(m.parentId))
      throw new InvalidImportError(
        `${where}/messages/${i}/parentId: no message has the id "${m.parentId.slice(0, 80)}"`,
      )
    return {
      key: m.id,
      parentKey: m.parentId,
      role: m.role,
      content: m.content,
      ...(m.agent && { agent: m.agent }),
      ...(m.role === 'assistant' && { status: m.status ?? 'completed' }),
      ...(m.error && m.status && m.status !== 'completed' && { error: m.error }),
      createdAt: toMs(m.createdAt, `${where}/messages/${i}/createdAt`),
    }
  })
  assertAcyclic(messages, where)
  const createdAt = toMs(value.thread.createdAt, `${where}/thread/createdAt`)
  const leafKey =
    value.thread.currentLeafId && keys.has(value.thread.currentLeafId)
      ? value.thread.currentLeafId
      : newestKey(messages)
  const updatedAt = value.thread.updatedAt
    ? toMs(value.thread.updatedAt, `${where}/thread/updatedAt`)
    : Math.max(createdAt, ...messages.map((m) => m.createdAt))
  return { title: titleOf(value.thread.title), createdAt, updatedAt, leafKey, messages }
}

const newestKey = (messages: ImportedMessage[]) =>
  messages.reduce<ImportedMessage | undefined>((a, m) => (!a || m.createdAt >= a.createdAt ? m : a), undefined)?.key ??
  null

/** A parent chain that loops would make the branch walk endless: refuse it. */
function assertAcyclic(messages: ImportedMessage[], where: string) {
  const parent = new Map(messages.map((m) => [m.key, m.parentKey]))
  const done = new Set<string>()
  for (const m of messages) {
    const seen = new Set<string>()
    for (let k: string | null = m.key; k !== null && !done.has(k); k = parent.get(k) ?? null) {
      if (seen.has(k)) throw new InvalidImportError(`${where}/messages: the parent links form a loop`)
      seen.add(k)
    }
    for (const k of seen) done.add(k)
  }
}

/** The text of a ChatGPT message, or '' when it carries none a reader would want. */
function chatgptText(message: Static<typeof chatgptMessage>): string {
  const content = message.content
  if (!content) return ''
  if (Array.isArray(content.parts)) {
    return content.parts
      .map((p) =>
        typeof p === 'string'
          ? p
          : p && typeof p === 'object' && (p as any).content_type === 'image_asset_pointer'
            ? '[image]'
            : '',
      )
      .filter(Boolean)
      .join('\n')
      .trim()
  }
  return typeof content.text === 'string' ? content.text.trim() : ''
}

/**
 * A ChatGPT conversation: its `mapping` is a tree of nodes; system, tool and hidden nodes and
 * empty ones are dropped and their children hang under the nearest kept ancestor, so every
 * branch survives. The default branch ends at `current_node` (or its nearest kept ancestor).
 */
function fromChatgpt(conversation: Static<typeof chatgptConversation>, where: string): ImportedThread {
  const nodes = conversation.mapping
  const kept = new Map<string, ImportedMessage>()
  const fallbackTime = (conversation.create_time ?? Date.now() / 1000) * 1000
  for (const [key, node] of Object.entries(nodes)) {
    const message = node.message
    if (!message) continue
    const role = message.author.role
    if (role !== 'user' && role !== 'assistant') continue
    if (message.metadata && (message.metadata as any).is_visually_hidden_from_conversation) continue
    // A message to a tool (recipient "python", "browser"…) is a tool call, not conversation.
    if (message.recipient && message.recipient !== 'all') continue
    const contentType = message.content?.content_type
    if (contentType && !['text', 'multimodal_text', 'code'].includes(contentType)) continue
    const content = chatgptText(message)
    if (!content) continue
    kept.set(key, {
      key,
      parentKey: null,
      role,
      content,
      ...(role === 'assistant' && { status: 'completed' as const }),
      createdAt: Math.round(typeof message.create_time === 'number' ? message.create_time * 1000 : fallbackTime),
    })
  }
  const keptAncestor = (key: string | null | undefined): string | null => {
    const seen = new Set<string>()
    for (let k = key ?? null; k !== null; k = nodes[k]?.parent ?? null) {
      if (seen.has(k)) throw new InvalidImportError(`${where}/mapping: the parent links form a loop`)
      seen.add(k)
      if (kept.has(k)) return k
    }
    return null
  }
  for (const [key, message] of kept) message.parentKey = keptAncestor(nodes[key]?.parent)
  const messages = [...kept.values()].sort((a, b) => a.createdAt - b.createdAt)
  assertAcyclic(messages, `${where}/mapping`)
  const leafKey = keptAncestor(conversation.current_node) ?? newestKey(messages)
  const createdAt =
    typeof conversation.create_time === 'number'
      ? Math.round(conversation.create_time * 1000)
      : (messages[0]?.createdAt ?? Date.now())
  const updatedAt =
    Math.round((conversation.update_time ?? 0) * 1000) || Math.max(createdAt, ...messages.map((m) => m.createdAt))
  return { title: titleOf(conversation.title), createdAt, updatedAt, leafKey, messages }
}

/** Parses an import body (already JSON-decoded); throws InvalidImportError saying what is wrong. */
export function readImport(body: unknown): ImportedThread[] {
  let threads: ImportedThread[]
  if (Array.isArray(body)) {
    if (body.length === 0) throw new InvalidImportError('the list of conversations is empty')
    const why = problem(chatgptExport, body)
    if (why) throw new InvalidImportError(`not a ChatGPT conversations.json: ${why}`)
    threads = (body as Static<typeof chatgptExport>).map((c, i) => fromChatgpt(c, `/${i}`))
  } else if (body && typeof body === 'object' && 'threads' in body) {
    const why = problem(accountExport, body)
    if (why) throw new InvalidImportError(`not an account export: ${why}`)
    threads = (body as Static<typeof accountExport>).threads.map((t, i) => fromOurs(t, `/threads/${i}`))
  } else if (body && typeof body === 'object' && 'messages' in body && 'thread' in body) {
    const why = problem(ourThread, body)
    if (why) throw new InvalidImportError(`not a thread export: ${why}`)
    threads = [fromOurs(body as Static<typeof ourThread>, '')]
  } else {
    throw new InvalidImportError(
      'expected a thread export of this server, an account export, or a ChatGPT conversations.json (a list of conversations with a "mapping")',
    )
  }
  if (threads.length === 0) throw new InvalidImportError('there is no conversation to import')
  if (threads.length > IMPORT_MAX_THREADS)
    throw new InvalidImportError(`at most ${IMPORT_MAX_THREADS} conversations per import`)
  const total = threads.reduce((n, t) => n + t.messages.length, 0)
  if (total > IMPORT_MAX_MESSAGES) throw new InvalidImportError(`at most ${IMPORT_MAX_MESSAGES} messages per import`)
  return threads
}
