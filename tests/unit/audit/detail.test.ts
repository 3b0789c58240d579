/** The audit log's last line of defence: details keep short facts and drop anything content- or secret-like. */
import { test, expect } from 'bun:test'
import { cleanDetail } from '../../../src/audit'

test('keeps scalar facts under harmless keys', () => {
  expect(
    cleanDetail({ role: 'admin', disabled: true, runsPerDay: 3, tokensPerDay: null, tool: 'save_note', via: 'cli' }),
  ).toEqual({ role: 'admin', disabled: true, runsPerDay: 3, tokensPerDay: null, tool: 'save_note', via: 'cli' })
})

/** Keys that carry a secret or someone's content: each is dropped, whatever a caller passes under it. */
const SECRET_OR_CONTENT_KEYS = [
  'password',
  'newPassword',
  'token',
  'refreshToken',
  'accessToken',
  'apiKey',
  'key',
  'secret',
  'clientSecret',
  'content',
  'body',
  'text',
  'title',
  'query',
  'args',
  'result',
]

test.each(SECRET_OR_CONTENT_KEYS)('drops %s', (key) => {
  expect(cleanDetail({ [key]: 'lcs_abc hunter22 message text', role: 'member' })).toEqual({ role: 'member' })
})

test('drops objects and arrays, truncates long strings, and answers null when nothing is left', () => {
  expect(cleanDetail({ nested: { a: 1 } as never, list: [1] as never })).toBeNull()
  expect(cleanDetail({ reason: 'x'.repeat(500) })!.reason).toHaveLength(120)
  expect(cleanDetail(undefined)).toBeNull()
})
