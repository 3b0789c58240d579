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
/**
 * Longest text of one imported message. A chat message is at most MAX_CHAT_CONTENT (32,000)
 * characters and a model's answer rarely passes a few tens of thousands, so this leaves room; it
 * bounds the full-text indexing of one message, which is done in one statement that nothing can
 * interrupt (24 MB of distinct words held the server for 17 s).
 */
export const IMPORT_MAX_MESSAGE_CHARS = 200_000
const TITLE_MAX = 200

// ---- our own export ---------------------------------------------------------------------------

const isoDate = Type.String({ minLength: 10, maxLength: 40 })
/** A checked document citation of an answer (PROTOCOL.md §8), kept as the export wrote it. */
const citation = Type.Object({
  n: Type.Integer({ minimum: 1, maximum: 10_000 }),
  documentId: Type.String({ maxLength: 200 }),
  documentName: Type.String({ maxLength: 1000 }),
  chunkId: Type.String({ maxLength: 200 }),
  quote: Type.String({ maxLength: 2000 }),
})
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
  citations: Type.Optional(Type.Array(citation, { maxItems: 1000 })),
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
  // Check is a plain pass; Errors, several times slower on a large body, only runs on a misfit.
  if (Value.Check(schema, value)) return undefined
  const first = Value.Errors(schema, value).First()
  if (!first) return undefined
  return `${first.path || '(top level)'}: ${first.message}`
}

/**
 * The times an import may carry: the years 0000 to 9999, which `toISOString()` writes with four
 * digits. A time outside them would be stored and then break every read that writes it out.
 */
export const IMPORT_TIME_MIN = Date.parse('0000-01-01T00:00:00.000Z')
export const IMPORT_TIME_MAX = Date.parse('9999-12-31T23:59:59.999Z')

function checkedTime(ms: number, where: string, shown: string): number {
  if (!(ms >= IMPORT_TIME_MIN && ms <= IMPORT_TIME_MAX))
    throw new InvalidImportError(`${where}: ${shown} is not a date between 0000-01-01 and 9999-12-31`)
  return ms
}

/**
 * The ISO 8601 form our export writes (`toISOString()`), with or without the time, seconds,
 * fraction or zone. Nothing else is taken for a date: `Date.parse` also reads "March 3, 2026",
 * and rolls "2026-02-30" over into March.
 */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/

/** The milliseconds of an ISO time that names a real day and time, else NaN. */
function isoToMs(text: string): number {
  const m = ISO_TIME.exec(text)
  if (!m) return Number.NaN
  const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1).map((part) => Number(part ?? 0))
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day) // setUTCFullYear: years 0–99 stay themselves
  const realDay = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day
  return realDay && hour <= 23 && minute <= 59 && second <= 59 ? Date.parse(text) : Number.NaN
}

/** An ISO date of our export, in milliseconds. */
const toMs = (iso: string, where: string) => checkedTime(isoToMs(iso), where, `"${iso.slice(0, 40)}"`)

/** A ChatGPT time (seconds since 1970, with a fraction), in milliseconds. */
const secondsToMs = (seconds: number, where: string) =>
  checkedTime(Math.round(seconds * 1000), where, String(seconds).slice(0, 40))

/** The newest of `first` and the messages' times (a loop: spreading that many arguments can overflow). */
function newestTime(first: number, messages: ImportedMessage[]): number {
  let newest = first
  for (const m of messages) if (m.createdAt > newest) newest = m.createdAt
  return newest
}

function checkThreadCount(n: number) {
  if (n > IMPORT_MAX_THREADS) throw new InvalidImportError(`at most ${IMPORT_MAX_THREADS} conversations per import`)
}

function checkMessageLength(content: string, where: string) {
  if (content.length > IMPORT_MAX_MESSAGE_CHARS)
    throw new InvalidImportError(
      `${where}: the message has ${content.length} characters; at most ${IMPORT_MAX_MESSAGE_CHARS} are taken`,
    )
}

function checkMessageCount(n: number) {
  if (n > IMPORT_MAX_MESSAGES) throw new InvalidImportError(`at most ${IMPORT_MAX_MESSAGES} messages per import`)
}

const titleOf = (title: string | null | undefined) =>
  (title ?? '').replace(/\s+/g, ' ').trim().slice(0, TITLE_MAX) || 'Imported chat'

/** A citation with only the fields of its shape (a file may carry more). */
const keptCitation = (c: Static<typeof citation>) => ({
  n: c.n,
  documentId: c.documentId,
  documentName: c.documentName,
  chunkId: c.chunkId,
  quote: c.quote,
})

function fromOurs(value: Static<typeof ourThread>, where: string): ImportedThread {
  const keys = new Set(value.messages.map((m) => m.id))
  if (keys.size !== value.messages.length) throw new InvalidImportError(`${where}/messages: two messages share one id`)
  const messages = value.messages.map((m, i): ImportedMessage => {
    if (m.parentId !== null && !keys.has(m.parentId))
      throw new InvalidImportError(
        `${where}/messages/${i}/parentId: no message has the id "${m.parentId.slice(0, 80)}"`,
      )
    checkMessageLength(m.content, `${where}/messages/${i}/content`)
    return {
      key: m.id,
      parentKey: m.parentId,
      role: m.role,
      content: m.content,
      ...(m.agent && { agent: m.agent }),
      ...(m.role === 'assistant' && { status: m.status ?? 'completed' }),
      ...(m.error && m.status && m.status !== 'completed' && { error: m.error }),
      ...(m.citations && m.role === 'assistant' && { citations: m.citations.map(keptCitation) }),
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
    : newestTime(createdAt, messages)
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
 * For every node of a ChatGPT `mapping`, the nearest kept node at or above it (null: none).
 * Each node is walked once: a walk stops at the first node already answered, and the nodes it
 * passed are answered top down on the way back. A chain of parent links that loops is refused.
 */
function nearestKept(
  parentOf: Map<string, string | null>,
  kept: Map<string, unknown>,
  where: string,
): Map<string, string | null> {
  const nearest = new Map<string, string | null>()
  const path: string[] = []
  const onPath = new Set<string>()
  for (const start of parentOf.keys()) {
    if (nearest.has(start)) continue
    let above: string | null = null
    for (let k: string | null = start; k !== null; k = parentOf.get(k) ?? null) {
      const known = nearest.get(k)
      if (known !== undefined) {
        above = known
        break
      }
      if (onPath.has(k)) throw new InvalidImportError(`${where}/mapping: the parent links form a loop`)
      onPath.add(k)
      path.push(k)
    }
    for (let i = path.length - 1; i >= 0; i--) {
      if (kept.has(path[i])) above = path[i]
      nearest.set(path[i], above)
    }
    path.length = 0
    onPath.clear()
  }
  return nearest
}

/**
 * A ChatGPT conversation: its `mapping` is a tree of nodes; system, tool and hidden nodes and
 * empty ones are dropped and their children hang under the nearest kept ancestor, so every
 * branch survives. The default branch ends at `current_node` (or its nearest kept ancestor).
 * A message without `create_time` takes the conversation's (or, without that, the time of the
 * import); a time outside the years 0000–9999 is refused. `count` adds up the messages kept
 * over all conversations, so the cap stops an import before its trees are built.
 */
function fromChatgpt(
  conversation: Static<typeof chatgptConversation>,
  where: string,
  count: { messages: number },
): ImportedThread {
  const started =
    typeof conversation.create_time === 'number'
      ? secondsToMs(conversation.create_time, `${where}/create_time`)
      : undefined
  const fallbackTime = started ?? Date.now()
  const kept = new Map<string, ImportedMessage>()
  const parentOf = new Map<string, string | null>()
  for (const [key, node] of Object.entries(conversation.mapping)) {
    parentOf.set(key, node.parent ?? null)
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
    checkMessageLength(content, `${where}/mapping/${key.slice(0, 80)}/message/content`)
    checkMessageCount(++count.messages)
    kept.set(key, {
      key,
      parentKey: null,
      role,
      content,
      ...(role === 'assistant' && { status: 'completed' as const }),
      createdAt:
        typeof message.create_time === 'number'
          ? secondsToMs(message.create_time, `${where}/mapping/${key.slice(0, 80)}/message/create_time`)
          : fallbackTime,
    })
  }
  const nearest = nearestKept(parentOf, kept, where)
  const above = (key: string | null | undefined) => (key == null ? null : (nearest.get(key) ?? null))
  for (const [key, message] of kept) message.parentKey = above(parentOf.get(key))
  const messages = [...kept.values()].sort((a, b) => a.createdAt - b.createdAt)
  const leafKey = above(conversation.current_node) ?? newestKey(messages)
  const createdAt = started ?? messages[0]?.createdAt ?? Date.now()
  const updatedAt = conversation.update_time
    ? secondsToMs(conversation.update_time, `${where}/update_time`)
    : newestTime(createdAt, messages)
  return { title: titleOf(conversation.title), createdAt, updatedAt, leafKey, messages }
}

/** Parses an import body (already JSON-decoded); throws InvalidImportError saying what is wrong. */
export function readImport(body: unknown): ImportedThread[] {
  // The caps are checked as soon as the counts are known, before the trees are built.
  let threads: ImportedThread[]
  if (Array.isArray(body)) {
    if (body.length === 0) throw new InvalidImportError('the list of conversations is empty')
    checkThreadCount(body.length)
    const why = problem(chatgptExport, body)
    if (why) throw new InvalidImportError(`not a ChatGPT conversations.json: ${why}`)
    const count = { messages: 0 }
    threads = (body as Static<typeof chatgptExport>).map((c, i) => fromChatgpt(c, `/${i}`, count))
  } else if (body && typeof body === 'object' && 'threads' in body) {
    if (Array.isArray(body.threads)) checkThreadCount(body.threads.length)
    const why = problem(accountExport, body)
    if (why) throw new InvalidImportError(`not an account export: ${why}`)
    const list = (body as Static<typeof accountExport>).threads
    checkMessageCount(list.reduce((n, t) => n + t.messages.length, 0))
    threads = list.map((t, i) => fromOurs(t, `/threads/${i}`))
  } else if (body && typeof body === 'object' && 'messages' in body && 'thread' in body) {
    const why = problem(ourThread, body)
    if (why) throw new InvalidImportError(`not a thread export: ${why}`)
    checkMessageCount((body as Static<typeof ourThread>).messages.length)
    threads = [fromOurs(body as Static<typeof ourThread>, '')]
  } else {
    throw new InvalidImportError(
      'expected a thread export of this server, an account export, or a ChatGPT conversations.json (a list of conversations with a "mapping")',
    )
  }
  if (threads.length === 0) throw new InvalidImportError('there is no conversation to import')
  return threads
}
