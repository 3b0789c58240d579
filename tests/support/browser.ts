/**
 * Browser-test helpers: Debian's Chromium driven by playwright-core.
 *
 *   const browser = await launchBrowser()
 *   const { page, context } = await openPage(browser, server.url)
 *
 * When no Chromium binary is found the browser tests skip (`test.skipIf(!chromiumPath)`) and say
 * so once. Install it with `apt-get install -y chromium`, or point CHROMIUM_PATH at a binary.
 */
import { existsSync } from 'node:fs'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll } from 'bun:test'
import { startTestServer, type TestServer } from './server'
import { registerUser, type TestUser } from './users'
import { type FakeOllama, type FakeOllamaOptions, startFakeOllama } from './fake-ollama'
import { later } from './fixtures'
import { waitForSocket } from './chat-page'

const CANDIDATES = [
  process.env.CHROMIUM_PATH,
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
]

export const chromiumPath: string | undefined = CANDIDATES.find((p): p is string => !!p && existsSync(p))

let warned = false
if (!chromiumPath && !warned) {
  warned = true
  console.warn('[browser tests] skipped: no Chromium binary found (apt-get install -y chromium, or set CHROMIUM_PATH)')
}

/** Without the networking flags this offline machine has Chromium refuse its own background connections. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
  '--disable-dev-shm-usage',
]

export async function launchBrowser(): Promise<Browser> {
  if (!chromiumPath) throw new Error('no Chromium binary (see tests/support/browser.ts)')
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS })
}

export interface OpenedPage {
  context: BrowserContext
  page: Page
  /** Uncaught page errors and console errors, for assertions and for debugging a failure. */
  errors: string[]
  /** Every dialog (alert/confirm/prompt) the page tried to open; each is dismissed. */
  dialogs: string[]
}

export interface OpenPageOptions {
  /** Phone width: 375×740. */
  phone?: boolean
  /** Puts this session in localStorage['chat-session'] before the page loads (skips the login form). */
  session?: TestUser | { user: unknown; accessToken: string; refreshToken: string; expiresIn: number }
  /** The path to open (default '/'). */
  path?: string
  /** Runs on the new context before its first page opens (e.g. `context.addInitScript`). */
  init?: (context: BrowserContext) => Promise<unknown>
}

/** A fresh browser context (own storage, own cookies) with one page at the server's UI. */
export async function openPage(browser: Browser, baseUrl: string, opts: OpenPageOptions = {}): Promise<OpenedPage> {
  const context = await browser.newContext({
    baseURL: baseUrl,
    viewport: opts.phone ? { width: 375, height: 740 } : { width: 1280, height: 820 },
    deviceScaleFactor: 1,
    isMobile: opts.phone ?? false,
    hasTouch: opts.phone ?? false,
  })
  if (opts.session) {
    const s = opts.session as any
    // The token's own claims say when it was issued and how long it lives.
    const claims = JSON.parse(Buffer.from(String(s.accessToken).split('.')[1] ?? '', 'base64url').toString() || '{}')
    const stored = {
      // registerUser's emails are `<name>-<time>-<n>@example.test`
      user: s.user ?? {
        id: s.id,
        email: s.email,
        name: s.email.split('@')[0].replace(/-\d+-\d+$/, ''),
        role: 'member',
      },
      accessToken: s.accessToken,
      refreshToken: s.refreshToken,
      expiresIn: s.expiresIn ?? (claims.exp && claims.iat ? claims.exp - claims.iat : 900),
      obtainedAt: claims.iat ? claims.iat * 1000 : Date.now(),
    }
    await context.addInitScript((value) => {
      // Only seed once per context: a reload must keep whatever the app stored since.
      if (!sessionStorage.getItem('__seeded')) {
        sessionStorage.setItem('__seeded', '1')
        if (!localStorage.getItem('chat-session')) localStorage.setItem('chat-session', value)
      }
    }, JSON.stringify(stored))
  }
  await opts.init?.(context)
  const page = await context.newPage()
  const errors: string[] = []
  const dialogs: string[] = []
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`))
  page.on('console', (m) => {
    // A failed request (e.g. /api/models while Ollama is down) is expected and handled by the UI.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(`console: ${m.text()}`)
  })
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`)
    void d.dismiss().catch(() => {})
  })
  await page.goto(opts.path ?? '/')
  return { context, page, errors, dialogs }
}

/** Follows the navigation link `name` and waits for the page it opens (whose heading says the same). */
export async function openFromNav(page: Page, name: string) {
  await page.getByRole('link', { name }).click()
  await page.getByRole('heading', { name, level: 1 }).waitFor()
}

/** Signs up through the form; returns the credentials. */
export async function signUpViaUi(page: Page, name = 'user'): Promise<{ email: string; password: string }> {
  const email = `${name}-${Date.now()}-${Math.random().toString(36).slice(2, 7)}@example.test`
  const password = `pw-${crypto.randomUUID()}`
  // A fresh server opens on "Create the admin account" already; otherwise switch to sign-up.
  const setup = await page.locator('.auth-card[data-setup]').getAttribute('data-setup')
  if (setup !== 'needs-admin') await page.getByRole('button', { name: 'Create one' }).click()
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Name').fill(name)
  await page.getByLabel('Password').fill(password)
  await page
    .getByRole('button', { name: setup === 'needs-admin' ? 'Create the admin account' : 'Create account' })
    .click()
  await page.getByRole('button', { name: 'Sign out' }).waitFor()
  return { email, password }
}

export type SignedInPage = OpenedPage & { user: TestUser }

/** A user registered through the API and a page already signed in as them. */
export async function signedInPage(
  browser: Browser,
  server: Pick<TestServer, 'api' | 'url'>,
  name = 'user',
  opts: Omit<OpenPageOptions, 'session'> = {},
): Promise<SignedInPage> {
  const user = await registerUser(server, name)
  const opened = await openPage(browser, server.url, { ...opts, session: user })
  await opened.page.locator('.layout').waitFor({ state: 'attached' })
  return { ...opened, user }
}

/** signedInPage, once the page's socket is up: where a test that sends messages starts. */
export async function signedInChat(...args: Parameters<typeof signedInPage>): Promise<SignedInPage> {
  const opened = await signedInPage(...args)
  await waitForSocket(opened.page)
  return opened
}

/**
 * The chat page's actions live in tests/support/chat-page.ts; re-exported here for the tests
 * that import them from this module.
 */
export { askAboutSales, lastAnswerText, regenerateLast, sendMessage, waitForRunEnd, waitForSocket } from './chat-page'

/**
 * useBrowserStack({ env }) for a describe block, handed to `use` once started (for files whose
 * helpers read file-level variables; `use` assigns them).
 */
export function withServerAndBrowser(
  use: (server: TestServer, browser: Browser) => void,
  env: Record<string, string> = {},
) {
  const stack = useBrowserStack({ env })
  beforeAll(() => use(stack.server, stack.browser))
}

export interface BrowserStack {
  /** The test server (not with `server: false`). */
  server: TestServer
  browser: Browser
  /** The scripted model the server answers from (only when `ollama` options were given). */
  ollama: FakeOllama
}

export interface BrowserStackOptions {
  /** Starts a scripted Ollama with these options; the test server answers from it. */
  ollama?: FakeOllamaOptions
  /** More settings of the test server. */
  env?: Record<string, string>
  /** `false`: no test server — the file starts its own (a child process, one per describe block). */
  server?: boolean
}

/**
 * The one browser fixture: Chromium, a test server and — given `ollama` options — a scripted
 * Ollama it answers from, started before the file's (or describe block's) tests and closed
 * after them, also when a test failed. Without Chromium it starts nothing (the browser tests skip).
 *
 *   const { server, browser, ollama } = useBrowserStack({ ollama: { handler: createDemoBrain() } })
 */
export function useBrowserStack(opts: BrowserStackOptions = {}): BrowserStack {
  let started: Partial<BrowserStack> | undefined
  beforeAll(async () => {
    if (!chromiumPath) return
    started = {}
    if (opts.ollama) started.ollama = await startFakeOllama(opts.ollama)
    if (opts.server !== false)
      started.server = await startTestServer({
        ...(started.ollama && { OLLAMA_HOST: started.ollama.url }),
        ...opts.env,
      })
    started.browser = await launchBrowser()
  })
  afterAll(async () => {
    await started?.browser?.close()
    await started?.server?.close()
    await started?.ollama?.close()
  })
  return {
    server: later('the test server', () => started?.server),
    browser: later('the browser', () => started?.browser),
    ollama: later('the scripted Ollama', () => started?.ollama),
  }
}
