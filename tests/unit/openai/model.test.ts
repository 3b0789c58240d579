/** Request validation of /v1/chat/completions: what is accepted and how refusals read. */
import { describe, expect, test } from 'bun:test'
import { parseChatCompletionRequest, textOf, MAX_MESSAGE_CHARS } from '../../../src/openai/model'
import { AppError } from '../../../src/http/errors'

const refusal = (body: unknown): AppError => {
  try {
    parseChatCompletionRequest(body)
  } catch (error) {
    if (error instanceof AppError) return error
    throw error
  }
  throw new Error('accepted')
}

describe('parseChatCompletionRequest', () => {
  test('takes what the openai client sends, with content as a string or text parts', () => {
    const request = parseChatCompletionRequest({
      model: 'llama3.2',
      messages: [
        { role: 'developer', content: 'rules' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'a' },
            { type: 'text', text: 'b' },
          ],
        },
      ],
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0,
      max_tokens: null,
      n: 1,
      user: 'me',
    })
    expect(textOf(request.messages[1])).toBe('ab')
  })

  test('names each unsupported parameter', () => {
    const error = refusal({ model: 'm', messages: [{ role: 'user', content: 'x' }], tools: [], logprobs: true })
    expect(error.code).toBe('unsupported_parameter')
    expect(error.message).toContain('tools, logprobs')
  })

  test('points at the bad field', () => {
    expect(refusal({ model: 'm', messages: [{ role: 'user', content: 5 }] }).message).toContain('messages[0].content')
    expect(refusal({ model: 'm', messages: [{ role: 'user', content: 'x' }], n: 2 }).message).toContain('n')
    expect(
      refusal({ model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] }).status,
    ).toBe(400)
  })

  test('refuses huge conversations before anything runs', () => {
    expect(refusal({ model: 'm', messages: [{ role: 'user', content: 'y'.repeat(MAX_MESSAGE_CHARS + 1) }] }).code).toBe(
      'context_length_exceeded',
    )
  })
})
