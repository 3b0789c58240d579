/** How the UI is served (no browser needed): types, caching, CSP, and no shadowing of the API. */
import { describe, expect, test } from 'bun:test'
import { useTestServer } from '../../support/fixtures'

const { server } = useTestServer()

async function page() {
  const res = await fetch(server.url + '/')
  return { res, html: await res.text() }
}

describe('serving the web UI', () => {
  test('GET / is the HTML page, revalidated on every load, with a strict CSP', async () => {
    const { res, html } = await page()
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(res.headers.get('cache-control')).toBe('no-cache')
    expect(res.headers.get('etag')).toBeTruthy()
    const csp = res.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("object-src 'none'")
    expect(csp).not.toContain('unsafe-inline')
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(html).toContain('<div id="app">')
    // No inline script: everything runs from the hashed bundle.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
  })

  test('a matching ETag gets 304', async () => {
    const { res } = await page()
    const again = await fetch(server.url + '/', { headers: { 'if-none-match': res.headers.get('etag')! } })
    expect(again.status).toBe(304)
  })

  test('the hashed assets have the right types and are cached for a year', async () => {
    const { html } = await page()
    const js = /<script[^>]+src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1]
    const css = /<link[^>]+href="(\/assets\/[^"]+\.css)"/.exec(html)?.[1]
    expect(js).toBeTruthy()
    expect(css).toBeTruthy()
    for (const [path, type] of [
      [js!, 'javascript'],
      [css!, 'text/css'],
    ] as const) {
      const res = await fetch(server.url + path)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toContain(type)
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(100)
    }
    // gzip for clients that ask for it
    const raw = await fetch(server.url + js!, {
      headers: { 'accept-encoding': 'gzip' },
      decompress: false,
    } as RequestInit)
    expect(raw.headers.get('content-encoding')).toBe('gzip')
  })

  test('unknown assets are 404, not the page', async () => {
    const res = await fetch(server.url + '/assets/nope-123.js')
    expect(res.status).toBe(404)
    expect(res.headers.get('content-type')).toContain('application/json')
  })

  test('the API, health and WebSocket routes are not shadowed', async () => {
    const api = await fetch(server.url + '/api/threads')
    expect(api.status).toBe(401)
    expect(((await api.json()) as any).error.code).toBeTruthy()
    const health = await fetch(server.url + '/health')
    expect(await health.json()).toEqual({ status: 'ok' })
    const ready = await fetch(server.url + '/ready')
    expect(ready.headers.get('content-type')).toContain('application/json')
    const unknown = await fetch(server.url + '/api/definitely-not-a-route')
    expect(unknown.status).toBe(404)
    expect(unknown.headers.get('content-type')).toContain('application/json')
    const ws = await fetch(server.url + '/ws')
    expect(ws.headers.get('content-type') ?? '').not.toContain('text/html')
  })
})
