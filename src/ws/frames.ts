import { MAX_CHAT_CONTENT, type ClientFrame } from '../protocol'

/** Checks client → server frames (their types: src/protocol) by hand: small, and errors must be precise. */

export type ParsedFrame =
  | { ok: true; frame: ClientFrame }
  | { ok: false; code: string; message: string; requestId?: string }

const bad = (code: string, message: string, requestId?: string): ParsedFrame => ({
  ok: false,
  code,
  message,
  ...(requestId !== undefined && { requestId }),
})

function optionalString(value: unknown, name: string, max: number): string | undefined | Error {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string' || value.length === 0 || value.length > max)
    return new Error(`${name} must be a non-empty string of at most ${max} characters`)
  return value
}

/** The agent and model a run may name (chat, regenerate), or the first of them that is not valid. */
function runChoice(f: Record<string, unknown>): { agent: string | undefined; model: string | undefined } | Error {
  const agent = optionalString(f.agent, 'agent', 64)
  if (agent instanceof Error) return agent
  const model = optionalString(f.model, 'model', 200)
  if (model instanceof Error) return model
  return { agent, model }
}

/** Accepts what Elysia hands over (already-parsed JSON, or the raw string when it was not JSON). */
export function parseClientFrame(message: unknown): ParsedFrame {
  let data = message
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data)
    } catch {
      return bad('invalid_json', 'the frame is not valid JSON')
    }
  }
  if (data instanceof Uint8Array || data instanceof ArrayBuffer || Buffer.isBuffer(data))
    return bad('invalid_frame', 'binary frames are not supported; send JSON text')
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    return bad('invalid_frame', 'a frame must be a JSON object with a "type"')
  const f = data as Record<string, unknown>
  const requestId = typeof f.requestId === 'string' ? f.requestId : undefined
  if (typeof f.type !== 'string') return bad('invalid_frame', 'the frame has no "type"', requestId)

  switch (f.type) {
    case 'auth':
      if (typeof f.token !== 'string' || !f.token) return bad('missing_field', 'auth needs "token"')
      return { ok: true, frame: { type: 'auth', token: f.token } }
    case 'ping':
      return { ok: true, frame: { type: 'ping' } }
    case 'chat': {
      if (typeof f.requestId !== 'string' || !f.requestId || f.requestId.length > 200)
        return bad('missing_field', 'chat needs "requestId" (a string)', requestId)
      if (typeof f.content !== 'string' || !f.content.trim())
        return bad('missing_field', 'chat needs non-empty "content"', requestId)
      if (f.content.length > MAX_CHAT_CONTENT)
        return bad('content_too_long', `content is longer than ${MAX_CHAT_CONTENT} characters`, requestId)
      const threadId = optionalString(f.threadId, 'threadId', 64)
      const choice = runChoice(f)
      // parentId: absent = after the thread's newest message, null = a new root (PROTOCOL.md §6).
      const parentId = f.parentId === null ? null : optionalString(f.parentId, 'parentId', 64)
      for (const v of [threadId, choice, parentId])
        if (v instanceof Error) return bad('invalid_field', v.message, requestId)
      return {
        ok: true,
        frame: {
          type: 'chat',
          requestId: f.requestId,
          content: f.content,
          threadId: threadId as string | undefined,
          ...(choice as Exclude<typeof choice, Error>),
          ...('parentId' in f && { parentId: parentId as string | null | undefined }),
        },
      }
    }
    case 'regenerate': {
      if (typeof f.requestId !== 'string' || !f.requestId || f.requestId.length > 200)
        return bad('missing_field', 'regenerate needs "requestId" (a string)', requestId)
      if (typeof f.messageId !== 'string' || !f.messageId || f.messageId.length > 64)
        return bad('missing_field', 'regenerate needs "messageId" (the answer to replace)', requestId)
      const choice = runChoice(f)
      if (choice instanceof Error) return bad('invalid_field', choice.message, requestId)
      return { ok: true, frame: { type: 'regenerate', requestId: f.requestId, messageId: f.messageId, ...choice } }
    }
    case 'cancel':
      if (typeof f.runId !== 'string' || !f.runId) return bad('missing_field', 'cancel needs "runId"', requestId)
      return { ok: true, frame: { type: 'cancel', runId: f.runId } }
    case 'resume': {
      if (typeof f.runId !== 'string' || !f.runId) return bad('missing_field', 'resume needs "runId"', requestId)
      const afterSeq = f.afterSeq ?? 0
      if (typeof afterSeq !== 'number' || !Number.isInteger(afterSeq) || afterSeq < 0)
        return bad('invalid_field', 'afterSeq must be a whole number ≥ 0', requestId)
      return { ok: true, frame: { type: 'resume', runId: f.runId, afterSeq } }
    }
    default:
      return bad('unknown_type', `unknown frame type "${String(f.type).slice(0, 40)}"`, requestId)
  }
}
