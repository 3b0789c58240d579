import { expect } from 'bun:test'
import type { ApiInit, TestServer } from '../../src/testing/server'

/**
 * Asserts that `res` is the error envelope of PROTOCOL.md §2 — exactly
 * `{"error":{"code","message"}}`, JSON, no stack trace — with the given status (and code).
 * Returns the parsed body.
 */
export async function expectError(
  res: Response,
  status: number,
  code?: string,
): Promise<{ error: { code: string; message: string } }> {
  const text = await res.text()
  expect({ status: res.status, text }).toMatchObject({ status })
  expect(res.headers.get('content-type') ?? '').toContain('application/json')
  const body = JSON.parse(text)
  expect(Object.keys(body)).toEqual(['error'])
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message'])
  expect(body.error.code).toMatch(/^[a-z][a-z0-9_]*$/)
  expect(typeof body.error.message).toBe('string')
  expect(body.error.message.length).toBeGreaterThan(0)
  if (code) expect(body.error.code).toBe(code)
  // No stack trace or source path leaks into an answer.
  expect(text).not.toMatch(/\bat .+:\d+:\d+|\.ts:\d+|node_modules|stack/i)
  return body
}

/** Parses a JSON answer after checking its status, showing the body when the status is wrong. */
export async function expectJson<T = any>(res: Response, status = 200): Promise<T> {
  const text = await res.text()
  expect({ status: res.status, text }).toMatchObject({ status })
  return JSON.parse(text) as T
}

/** Each request (a path, or a path and its init) is refused with 401 and the error envelope. */
export async function expectUnauthorized(server: Pick<TestServer, 'api'>, requests: (string | [string, ApiInit])[]) {
  for (const request of requests) {
    const [path, init] = typeof request === 'string' ? [request, {}] : request
    await expectError(await server.api(path, init), 401)
  }
}
