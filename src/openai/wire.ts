import { openaiErrorBody } from '../http/errors'

/** OpenAI Chat Completions wire objects (what the official clients parse). */

export interface Usage {
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
}

export type FinishReason = 'stop' | 'length'

export const usageOf = (usage: { promptTokens: number; completionTokens: number } | undefined): Usage => {
  const prompt = usage?.promptTokens ?? 0
  const completion = usage?.completionTokens ?? 0
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }
}

export const completionId = (runId: string) => `chatcmpl-${runId}`

export function completionObject(input: {
  runId: string
  created: number
  model: string
  content: string
  finishReason: FinishReason
  usage: Usage
}) {
  return {
    id: completionId(input.runId),
    object: 'chat.completion' as const,
    created: input.created,
    model: input.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant' as const, content: input.content, refusal: null },
        logprobs: null,
        finish_reason: input.finishReason,
      },
    ],
    usage: input.usage,
    system_fingerprint: null,
  }
}

/** One `chat.completion.chunk`; `usage` is null on every chunk but the last when usage was asked for. */
export function chunkObject(input: {
  runId: string
  created: number
  model: string
  delta: { role?: 'assistant'; content?: string }
  finishReason?: FinishReason | null
  usage?: Usage | null
  noChoices?: boolean
}) {
  return {
    id: completionId(input.runId),
    object: 'chat.completion.chunk' as const,
    created: input.created,
    model: input.model,
    system_fingerprint: null,
    choices: input.noChoices
      ? []
      : [{ index: 0, delta: input.delta, logprobs: null, finish_reason: input.finishReason ?? null }],
    ...(input.usage !== undefined && { usage: input.usage }),
  }
}

const encoder = new TextEncoder()

/** One server-sent event carrying JSON. */
export const sseData = (value: unknown) => encoder.encode(`data: ${JSON.stringify(value)}\n\n`)
export const SSE_DONE = encoder.encode('data: [DONE]\n\n')
/** An SSE comment: clients ignore it; proxies see a live connection during long tool calls. */
export const SSE_KEEPALIVE = encoder.encode(': keep-alive\n\n')
/** An error after the stream started: the official clients throw it as an APIError. */
export const sseError = (status: number, code: string, message: string) =>
  sseData(openaiErrorBody(status, code, message))
