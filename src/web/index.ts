/**
 * Serves the browser UI: its pages (src/web/pages.ts) and everything they import from
 * src/web/app, bundled in memory by Bun's bundler the first time it is needed (a warm-up
 * starts when the server starts listening, without delaying it) and kept for the life of
 * the process.
 *
 *   GET /               the page (no-cache + ETag, strict Content-Security-Policy)
 *   GET /assets/:file   hashed JS/CSS (cached for a year, immutable); source maps only when
 *                       WEB_SOURCE_MAPS=true (they would show anyone the UI's source tree)
 *   GET /s/:id          the public page of a shared chat (404 when the share is unknown or revoked)
 *
 * Client-side routes live in the URL hash (`/#/c/<thread>`, `/#/notes`…), so the UI never
 * shadows `/api/*`, `/ws`, `/health`, `/ready` or `/metrics`.
 */
import { Elysia } from 'elysia'
import { join } from 'node:path'
import { log } from '../log'
import { BASE_SECURITY_HEADERS } from '../http/security-headers'
import { embedded } from '../embedded'
import * as pages from './pages'

export interface WebAsset {
  body: Uint8Array
  /** Pre-compressed copy for clients that accept gzip (text assets over 1 KiB). */
  gzip?: Uint8Array
  type: string
  etag: string
}

export interface WebBundle {
  html: WebAsset
  /** The public page of a shared chat (`/s/:id`). */
  shareHtml: WebAsset
  assets: Map<string, WebAsset>
  builtInMs: number
}

// In-memory files (written by src/web/pages.ts), in the folder whose scripts they load.
const ENTRY = join(import.meta.dir, 'app', 'index.html')
const SHARE_ENTRY = join(import.meta.dir, 'app', 'share.html')
const ASSET_PREFIX = '/assets/'

const SECURITY_HEADERS = BASE_SECURITY_HEADERS

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

export interface WebOptions {
  /** Build and serve source maps (WEB_SOURCE_MAPS, default false). */
  sourceMaps?: boolean
  /** Whether a share id is live: `/s/:id` answers 404 without it. */
  shareExists?: (id: string) => Promise<boolean>
}

/** One build per flavour (with or without source maps). */
const cached = new Map<boolean, Promise<WebBundle>>()

/** Builds the UI once per process (concurrent callers share the build; a failure is retried next time). */
export function loadWebBundle(options: WebOptions = {}): Promise<WebBundle> {
  const sourceMaps = options.sourceMaps ?? false
  let build = cached.get(sourceMaps)
  if (!build) {
    build = buildWebBundle(options).catch((error) => {
      cached.delete(sourceMaps)
      throw error
    })
    cached.set(sourceMaps, build)
  }
  return build
}

/** The bundler settings of the UI; scripts/build.ts uses them too, to pre-build it for the single file. */
export const webBuildOptions = {
  entrypoints: [ENTRY, SHARE_ENTRY],
  files: { [ENTRY]: pages.appPage, [SHARE_ENTRY]: pages.sharePage },
  target: 'browser',
  minify: true,
  // No maps (and no sourceMappingURL comment) unless asked for (WEB_SOURCE_MAPS).
  sourcemap: 'none',
  publicPath: ASSET_PREFIX,
  naming: { entry: '[name]-[hash].[ext]', chunk: '[name]-[hash].[ext]', asset: '[name]-[hash].[ext]' },
  define: { 'process.env.NODE_ENV': '"production"' },
} satisfies Parameters<typeof Bun.build>[0]

export async function buildWebBundle(options: WebOptions = {}): Promise<WebBundle> {
  const started = performance.now()
  // The single-file build carries the UI pre-built (src/embedded.ts); from source it is built here.
  const files = embedded.web
    ? await Promise.all(Object.entries(embedded.web).map(async ([name, path]) => ({ name, file: Bun.file(path) })))
    : await (async () => {
        const result = await Bun.build({ ...webBuildOptions, sourcemap: options.sourceMaps ? 'linked' : 'none' })
        if (!result.success) {
          const messages = result.logs.map((l) => String(l.message ?? l)).join('\n')
          throw new Error(`web UI build failed:\n${messages}`)
        }
        return result.outputs.map((output) => ({ name: output.path.replace(/^.*[\\/]/, ''), file: output }))
      })()
  let html: WebAsset | undefined
  let shareHtml: WebAsset | undefined
  const assets = new Map<string, WebAsset>()
  for (const { name, file } of files) {
    const body = new Uint8Array(await file.arrayBuffer())
    const asset: WebAsset = {
      body,
      gzip: body.byteLength > 1024 ? Bun.gzipSync(body, { level: 9 }) : undefined,
      type: file.type || 'application/octet-stream',
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

async function page({ request }: { request: Request }, options: WebOptions) {
  try {
    const bundle = await loadWebBundle(options)
    return respond(request, bundle.html, { 'cache-control': 'no-cache', 'content-security-policy': CSP })
  } catch (error) {
    return buildFailed(error)
  }
}

async function asset({ request, params }: { request: Request; params: { file: string } }, options: WebOptions) {
  let bundle: WebBundle
  try {
    bundle = await loadWebBundle(options)
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

async function sharePage({ request, params }: { request: Request; params: { id: string } }, options: WebOptions) {
  const exists = params.id.length <= 64 && options.shareExists ? await options.shareExists(params.id) : false
  if (!exists) {
    return new Response(NOT_SHARED, {
      status: 404,
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        ...SECURITY_HEADERS,
        'content-security-policy': CSP,
      },
    })
  }
  try {
    const bundle = await loadWebBundle(options)
    return respond(request, bundle.shareHtml, { 'cache-control': 'no-store', 'content-security-policy': CSP })
  } catch (error) {
    return buildFailed(error)
  }
}

/** The web UI plugin: `/`, `/assets/*`, and `/s/:id` when given a way to check shares. */
export function webRoutes(options: WebOptions = {}) {
  const servePage = (ctx: { request: Request }) => page(ctx, options)
  const serveAsset = (ctx: { request: Request; params: { file: string } }) => asset(ctx, options)
  const serveShare = (ctx: { request: Request; params: { id: string } }) => sharePage(ctx, options)
  return new Elysia({ name: 'web', seed: { sourceMaps: options.sourceMaps ?? false } })
    .get('/s/:id', serveShare)
    .onStart(() => {
      // Warm the bundle in the background so the first page load is quick; never blocks start-up.
      void loadWebBundle(options).catch((error) =>
        log.error('web UI build failed', { error: String(error?.message ?? error) }),
      )
    })
    .get('/', servePage)
    .head('/', servePage)
    .get('/index.html', servePage)
    .get(`${ASSET_PREFIX}:file`, serveAsset)
    .head(`${ASSET_PREFIX}:file`, serveAsset)
}
