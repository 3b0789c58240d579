import { afterAll, describe, expect, test } from 'bun:test'
import { OllamaHost } from '../../../src/llm/provider'

/** A model's capabilities are looked up once for a crowd of runs starting together. */
describe('thinking capability lookup', () => {
  let shows = 0
  let held = Promise.withResolvers<void>()
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      if (new URL(req.url).pathname !== '/api/show') return new Response('not found', { status: 404 })
      shows++
      await held.promise // every caller is waiting before the answer comes
      return Response.json({ capabilities: ['completion', 'thinking'] })
    },
  })
  afterAll(() => server.stop(true))

  test('100 concurrent asks make one /api/show request, and the answer is cached', async () => {
    const host = new OllamaHost(`http://127.0.0.1:${server.port}`)
    const asks = Array.from({ length: 100 }, () => host.supportsThinking('crowd-model'))
    while (shows === 0) await Bun.sleep(1)
    held.resolve()
    expect(await Promise.all(asks)).toEqual(Array(100).fill(true))
    expect(shows).toBe(1)
    expect(await host.supportsThinking('crowd-model')).toBe(true)
    expect(shows).toBe(1)
    // Another model is looked up on its own.
    held = Promise.withResolvers<void>()
    held.resolve()
    expect(await host.supportsThinking('other-model')).toBe(true)
    expect(shows).toBe(2)
  })
})
