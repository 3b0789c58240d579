/** The audit log's last line of defence: details keep short facts and drop anything content- or secret-like. */
import { test, expect } from 'bun:test'
import { cleanDetail } from '../../../src/audit'

test('keeps scalar facts under harmless keys', () => {
  expect(
    cleanDetail({ role: 'admin', disabled: true, runsPerDay: 3, tokensPerDay: null, tool: 'save_note', via: 'cli' }),
  ).toEqual({ role: 'admin', disabled: true, runsPerDay: 3, tokensPerDay: null, tool: 'save_note', via: 'cli' })
})

test('drops passwords, tokens, keys, secrets and content-bearing keys, whatever a caller passes', () => {
  const detail = cleanDetail({
    password: 'hunter22',
    newPassword: 'x',
    token: 't',
    refreshToken: 'r',
    accessToken: 'a',
    apiKey: 'lcs_abc',
    key: 'k',
    secret: 's',
    clientSecret: 'c',
    content: 'message text',
    body: 'note body',
    text: 'document text',
    title: 'a title',
    query: 'search words',
    args: '{"x":1}',
    result: 'out',
    role: 'member',
  })
  expect(detail).toEqual({ role: 'member' })
})

test('drops objects and arrays, truncates long strings, and answers null when nothing is left', () => {
  expect(cleanDetail({ nested: { a: 1 } as never, list: [1] as never })).toBeNull()
  expect(cleanDetail({ reason: 'x'.repeat(500) })!.reason).toHaveLength(120)
  expect(cleanDetail(undefined)).toBeNull()
})
