import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { AppError } from '../http/errors'

/** Most messages one call may carry, and their text in all (a local model's context is far smaller). */
export const MAX_MESSAGES = 1000
export const MAX_MESSAGE_CHARS = 400_000

const textPart = Type.Object({ type: Type.Literal('text'), text: Type.String() })
const content = Type.Union([Type.String(), Type.Array(textPart)])

const message = Type.Object({
  role: Type.Union([
    Type.Literal('system'),
    Type.Literal('developer'),
    Type.Literal('user'),
    Type.Literal('assistant'),
  ]),
  content: Type.Union([content, Type.Null()]),
  name: Type.Optional(Type.String()),
})

/**
 * The fields of OpenAI's Chat Completions request this server takes (PROTOCOL.md §7), plus the
 * common sampling ones it can honour through Ollama's options. Anything else is refused by name,
 * so a client learns that e.g. `tools` or `n` is not supported instead of being silently ignored.
 */
export const chatCompletionRequest = Type.Object(
  {
    model: Type.String({ minLength: 1, maxLength: 200 }),
    messages: Type.Array(message, { minItems: 1 }),
    stream: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    stream_options: Type.Optional(
      Type.Union([Type.Object({ include_usage: Type.Optional(Type.Boolean()) }), Type.Null()]),
    ),
    temperature: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 2 }), Type.Null()])),
    top_p: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()])),
    max_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    max_completion_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    seed: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
    stop: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 4 }), Type.Null()])),
    n: Type.Optional(Type.Union([Type.Literal(1), Type.Null()])),
    user: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
)

export type ChatCompletionRequest = Static<typeof chatCompletionRequest>
export type ChatMessage = ChatCompletionRequest['messages'][number]

const invalid = (message: string, code = 'invalid_request') => new AppError(400, code, message)

/** Validates a parsed body; every refusal is a 400 that names the field and what was wrong. */
export function parseChatCompletionRequest(body: unknown): ChatCompletionRequest {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw invalid('the request body must be a JSON object with model and messages')
  const known = new Set(Object.keys(chatCompletionRequest.properties))
  const unknown = Object.keys(body).filter((key) => !known.has(key))
  if (unknown.length)
    throw invalid(
      `unsupported parameter${unknown.length > 1 ? 's' : ''}: ${unknown.slice(0, 5).join(', ')} (this server takes ${[...known].join(', ')})`,
      'unsupported_parameter',
    )
  const messages = (body as { messages?: unknown }).messages
  if (Array.isArray(messages) && messages.length > MAX_MESSAGES)
    throw invalid(
      `messages has ${messages.length} entries; at most ${MAX_MESSAGES} are accepted`,
      'context_length_exceeded',
    )
  const first = Value.Errors(chatCompletionRequest, body).First()
  if (first) {
    const path = first.path
      .replace(/^\//, '')
      .replace(/\/(\d+)/g, '[$1]')
      .replace(/\//g, '.')
    const missing = first.value === undefined
    throw invalid(`${path || 'body'}: ${missing ? 'is required' : first.message.replace(/^Expected/, 'expected')}`)
  }
  const request = body as ChatCompletionRequest
  const chars = request.messages.reduce((n, m) => n + textOf(m).length, 0)
  if (chars > MAX_MESSAGE_CHARS)
    throw invalid(
      `the messages hold ${chars} characters; at most ${MAX_MESSAGE_CHARS} are accepted`,
      'context_length_exceeded',
    )
  return request
}

/** A message's text: a string, or its text parts joined. */
export function textOf(message: ChatMessage): string {
  if (typeof message.content === 'string') return message.content
  if (!message.content) return ''
  return message.content.map((part) => part.text).join('')
}
