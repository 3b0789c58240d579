/**
 * Serves the browser UI: `src/web/app/index.html` and everything it imports, bundled in memory
 * by Bun's bundler the first time it is needed (a warm-up starts when the server starts
 * listening, without delaying it) and kept for the life of the process.
 *
 *   GET /               the page (no-cache + ETag, strict Content-Security-Policy)
 *   GET /assets/:file   hashed JS/CSS/source maps (cached for a year, immutable)
 *   GET /s/:id          the public page of a shared chat (404 when the share is unknown or revoked)
 *
 * Client-side routes live in the URL hash (`/#/c/<thread>`, `/#/notes`…), so the UI never
 * shadows `/api/*`, `/ws`, `/health`, `/ready` or `/metrics`.
 */
import { Elysia } from 'elysia'
import { join } from 'node:path'
import { log } from '../log'

export interface WebAsset {
  body: Uint8Array
  /** Pre-compressed copy for clients that accept gzip (text assets over 1 KiB). */
  gzip?: Uint8Array
  type: string
  etag: string
}

export interface WebBundle {
  html: WebAsset
  /** The public share page (`/s/:id`). */
  shareHtml: WebAsset
  assets: Map<string, WebAsset>
  builtInMs: number
}

const ENTRY = join(import.meta.dir, 'app', 'index.html')
const SHARE_ENTRY = join(import.meta.dir, 'app', 'share.html')
const ASSET_PREFIX = '/assets/'

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
}

/**
 * No inline script, no eval, no plugins, no foreign origins: even if something slipped past the
 * Markdown sanitiser, the browser would refuse to run it.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

let cached: Promise<WebBundle> | undefined

/** Builds the UI once per process (concurrent callers share the build; a failure is retried next time). */
export function loadWebBundle(): Promise<WebBundle> {
  cached ??= buildWebBundle().catch((error) => {
    cached = undefined
    throw error
  })
  return cached
}

export async function buildWebBundle(): Promise<WebBundle> {
  const started = performance.now()
  const result = await Bun.build({
    entrypoints: [ENTRY, SHARE_ENTRY],
    target: 'browser',
    minify: true,
    sourcemap: 'linked',
    publicPath: ASSET_PREFIX,
    naming: { entry: '[name]-[hash].[ext]', chunk: '[name]-[hash].[ext]', asset: '[name]-[hash].[ext]' },
    define: { 'process.env.NODE_ENV': '"production"' },
  })
  if (!result.success) {
    const messages = result.logs.map((l) => String(l.message ?? l)).join('\n')
    throw new Error(`web UI build failed:\n${messages}`)
  }
  let html: WebAsset | undefined
  let shareHtml: WebAsset | undefined
  const assets = new Map<string, WebAsset>()
  for (const output of result.outputs) {
    const body = new Uint8Array(await output.arrayBuffer())
    const name = output.path.replace(/^.*[\\/]/, '')
    const asset: WebAsset = {
      body,
      gzip: body.byteLength > 1024 ? Bun.gzipSync(body, { level: 9 }) : undefined,
      type: output.type || 'application/octet-stream',
      etag: `"${Bun.hash(body).toString(36)}"`,
    }
    if (name.endsWith('.html')) {
      if (name.startsWith('share')) shareHtml = { ...asset, type: 'text/html; charset=utf-8' }
      else html = { ...asset, type: 'text/html; charset=utf-8' }
    } else assets.set(name, asset)
  }
  if (!html || !shareHtml) throw new Error('web UI build produced no HTML page')
  const builtInMs = Math.round(performance.now() - started)
  log.debug('web UI built', { ms: builtInMs, assets: [...assets.keys()] })
  return { html, shareHtml, assets, builtInMs }
}

function respond(request: Request, asset: WebAsset, headers: Record<string, string>): Response {
  const common: Record<string, string> = { etag: asset.etag, vary: 'accept-encoding', ...SECURITY_HEADERS, ...headers }
  if (request.headers.get('if-none-match') === asset.etag) return new Response(null, { status: 304, headers: common })
  const gzip = asset.gzip && /\bgzip\b/.test(request.headers.get('accept-encoding') ?? '') ? asset.gzip : undefined
  const body = gzip ?? asset.body
  if (gzip) common['content-encoding'] = 'gzip'
  return new Response(request.method === 'HEAD' ? null : (body as Uint8Array<ArrayBuffer>), {
    headers: { 'content-type': asset.type, 'content-length': String(body.byteLength), ...common },
  })
}

function buildFailed(error: unknown): Response {
  log.error('web UI unavailable', { error: error instanceof Error ? error.message : String(error) })
  return new Response('The web UI could not be built; see the server log.', {
    status: 500,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
  })
}

async function page({ request }: { request: Request }) {
  try {
    const bundle = await loadWebBundle()
    return respond(request, bundle.html, { 'cache-control': 'no-cache', 'content-security-policy': CSP })
  } catch (error) {
    return buildFailed(error)
  }
}

async function asset({ request, params }: { request: Request; params: { file: string } }) {
  let bundle: WebBundle
  try {
    bundle = await loadWebBundle()
  } catch (error) {
    return buildFailed(error)
  }
  const found = bundle.assets.get(params.file)
  if (!found) {
    return new Response(JSON.stringify({ error: { code: 'not_found', message: 'no such asset' } }), {
      status: 404,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    })
  }
  return respond(request, found, { 'cache-control': 'public, max-age=31536000, immutable' })
}

const NOT_SHARED = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Link not available</title></head>
<body><main><h1>This link is not available</h1><p>The chat it pointed to is no longer shared, or the link is wrong.</p><p><a href="/">Go to Local Chat</a></p></main></body></html>`

/** The web UI plugin: `/`, `/assets/*`, and `/s/:id` when given a way to check shares. */
export function webRoutes(opts: { shareExists?: (id: string) => Promise<boolean> } = {}) {
  async function sharePage({ request, params }: { request: Request; params: { id: string } }) {
    const exists = params.id.length <= 64 && opts.shareExists ? await opts.shareExists(params.id) : false
    if (!exists) {
      return new Response(NOT_SHARED, { status: 404, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...SECURITY_HEADERS, 'content-security-policy': CSP } })
    }
    try {
      const bundle = await loadWebBundle()
      return respond(request, bundle.shareHtml, { 'cache-control': 'no-store', 'content-security-policy': CSP })
    } catch (error) {
      return buildFailed(error)
    }
  }

  return new Elysia({ name: 'web' })
    .get('/s/:id', sharePage)
    .onStart(() => {
      // Warm the bundle in the background so the first page load is quick; never blocks start-up.
      void loadWebBundle().catch((error) => log.error('web UI build failed', { error: String(error?.message ?? error) }))
    })
    .get('/', page)
    .head('/', page)
    .get('/index.html', page)
    .get(`${ASSET_PREFIX}:file`, asset)
    .head(`${ASSET_PREFIX}:file`, asset)
}
