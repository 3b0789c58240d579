/**
 * The admin area and each user's settings in real Chromium (issue 15): admins manage accounts,
 * read usage (sortable, CSV) and the audit log, watch the status page; members see none of it;
 * every user changes their password, reads their usage, exports and deletes their account.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { Browser, Page } from 'playwright-core'
import { chromiumPath, openPage, withServerAndBrowser } from '../../support/browser'
import type { TestServer } from '../../support/server'
import { registerUser, type TestUser } from '../../support/users'
import { WsClient } from '../../support/ws-client'
import { login, refresh } from '../../support/teams'

setDefaultTimeout(90_000)

let server: TestServer
let browser: Browser
let admin: TestUser

/** Opens the UI signed in as `user` with the role the server gave it. */
async function pageAs(user: TestUser, role: 'admin' | 'member', path = '/') {
  const session = {
    user: { id: user.id, email: user.email, name: user.email.split('@')[0].replace(/-\d+-\d+$/, ''), role },
    accessToken: user.accessToken,
    refreshToken: user.refreshToken,
    expiresIn: 900,
  }
  const opened = await openPage(browser, server.url, { session, path })
  await opened.page.locator('.layout').waitFor({ state: 'attached' })
  return opened
}

/** Re-reads `read` until `check` holds (a condition, not a clock: the timeout is only a hang guard). */
async function until<T>(read: () => Promise<T>, check: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 15_000
  for (;;) {
    const value = await read()
    if (check(value)) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value ${JSON.stringify(value)}`)
    await Bun.sleep(50)
  }
}

async function downloadText(page: Page, click: () => Promise<void>): Promise<{ name: string; text: string }> {
  const [download] = await Promise.all([page.waitForEvent('download'), click()])
  const stream = await download.createReadStream()
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return { name: download.suggestedFilename(), text: Buffer.concat(chunks).toString('utf8') }
}

describe.skipIf(!chromiumPath)('browser: admin area', () => {
  withServerAndBrowser((s, b) => ((server = s), (browser = b)))

  test('users: create an account, promote it, set a quota, disable it, sign it out', async () => {
    admin = await registerUser(server, 'admin')
    const { page, context, errors } = await pageAs(admin, 'admin')
    const adminNav = page.getByRole('navigation', { name: 'Admin' })
    await adminNav.getByRole('link', { name: 'Users' }).click()
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor()
    await page.locator(`tr[data-email="${admin.email}"]`).waitFor()

    const email = `made-${crypto.randomUUID()}@example.test`
    const password = `pw-${crypto.randomUUID()}`
    await page.getByLabel('Email').fill(email)
    await page.getByLabel('Name', { exact: true }).fill('Made In UI')
    await page.getByLabel('Password').fill(password)
    await page.getByRole('button', { name: 'Create account' }).click()
    const row = page.locator(`tr[data-email="${email}"]`)
    await row.waitFor()
    const session = (await (await login(server, { email, password })).json()) as any
    expect(session.user).toMatchObject({ email, name: 'Made In UI', role: 'member' })

    const users = async () =>
      ((await (await server.api('/api/admin/users?limit=200', { token: admin.accessToken })).json()) as any).users.find(
        (u: any) => u.email === email,
      )
    await row.getByLabel(`Role of ${email}`).selectOption('admin')
    await until(users, (u) => u.role === 'admin', 'the promotion')

    await row.getByLabel(`Runs per day for ${email}`).fill('3')
    await row.getByRole('button', { name: 'Save quota' }).click()
    await until(users, (u) => u.quota?.runsPerDay === 3 && u.quota?.tokensPerDay === null, 'the quota')

    await row.getByRole('button', { name: 'Disable' }).click()
    await row.locator('.user-state', { hasText: 'Disabled' }).waitFor()
    expect((await login(server, { email, password })).status).toBe(403)
    await row.getByRole('button', { name: 'Enable' }).click()
    await row.locator('.user-state', { hasText: 'Active' }).waitFor()

    const fresh = (await (await login(server, { email, password })).json()) as any
    await row.getByRole('button', { name: 'Sign out everywhere' }).click()
    await until(
      () => refresh(server, fresh.refreshToken).then((r) => r.status),
      (status) => status === 401,
      'the sign-out',
    )

    // The last admin stays: demoting yourself while alone is refused, and the UI says so.
    await page.locator(`tr[data-email="${email}"]`).getByLabel(`Role of ${email}`).selectOption('member')
    await until(users, (u) => u.role === 'member', 'the demotion')
    await page.locator(`tr[data-email="${admin.email}"]`).getByLabel(`Role of ${admin.email}`).selectOption('member')
    await page.getByRole('alert').filter({ hasText: 'last active admin' }).waitFor()
    expect(await page.locator(`tr[data-email="${admin.email}"] select.user-role`).inputValue()).toBe('admin')
    expect(errors).toEqual([])
    await context.close()
  })

  test('usage: a row per user, day and model, sortable, and a CSV download', async () => {
    const worker = await registerUser(server, 'worker')
    const ws = await WsClient.connect(server.wsUrl, worker.accessToken)
    // No model is running here: runs fail, but each admitted run still counts.
    for (let i = 0; i < 2; i++) await ws.completion((await ws.chat(`hi ${i}`)).runId)
    ws.close()

    const { page, context, errors } = await pageAs(admin, 'admin', '/#/admin/usage')
    await page.getByRole('heading', { name: 'Usage', level: 1 }).waitFor()
    const row = page.locator('.admin-usage-table tbody tr', { hasText: worker.email })
    await row.waitFor()
    expect(await row.locator('td').nth(3).textContent()).toBe('2')

    await page.getByRole('button', { name: 'User' }).click()
    const emails = await page.locator('.admin-usage-table tbody tr td:nth-child(2)').allTextContents()
    expect(emails).toEqual([...emails].sort((a, b) => a.localeCompare(b)))
    expect(await page.getByRole('columnheader', { name: /User/ }).getAttribute('aria-sort')).toBe('ascending')

    const csv = await downloadText(page, () => page.getByRole('button', { name: 'Download CSV' }).click())
    expect(csv.name).toMatch(/^usage-.*\.csv$/)
    const lines = csv.text.trim().split(/\r?\n/)
    expect(lines[0]).toBe('day,user_id,email,model,runs,prompt_tokens,completion_tokens')
    expect(lines.some((l) => l.includes(worker.id) && l.includes(worker.email) && l.split(',')[4] === '2')).toBe(true)
    expect(errors).toEqual([])
    await context.close()
  })

  test('audit: events newest first, filtered by action and by actor', async () => {
    const { page, context, errors } = await pageAs(admin, 'admin', '/#/admin/audit')
    await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor()
    await page.locator('.audit-table tbody tr').first().waitFor()
    await page.getByLabel('Action').selectOption('user_created')
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll<HTMLElement>('.audit-table tbody tr')]
      return rows.length > 0 && rows.every((r) => r.dataset.action === 'user_created')
    })
    await page.getByLabel('Action').selectOption('')
    await page.getByLabel('Actor').selectOption({ label: admin.email })
    await page.waitForFunction((email) => {
      const rows = [...document.querySelectorAll<HTMLElement>('.audit-table tbody tr')]
      return rows.length > 0 && rows.every((r) => r.children[1]?.textContent === email)
    }, admin.email)
    expect(errors).toEqual([])
    await context.close()
  })

  test('status: live figures, charts and hosts, refreshed without a reload', async () => {
    const { page, context, errors } = await pageAs(admin, 'admin', '/#/admin/status')
    await page.getByRole('heading', { name: 'Status', level: 1 }).waitFor()
    await page.locator('.stat-runs .stat-value').waitFor()
    expect(await page.locator('.stat-runs .stat-value').textContent()).toBe('0')
    await page.getByRole('img', { name: /first token/ }).waitFor()
    await page.getByRole('img', { name: /failed runs/ }).waitFor()
    // The runs above failed to reach a model: the failure rate says so, and the host shows up.
    await page.waitForFunction(() => document.querySelector('.stat-failures .stat-value')?.textContent === '100 %')
    await page.locator('.host').first().waitFor()
    const first = await page.locator('.status-at').getAttribute('data-at')
    await page.waitForFunction(
      (before) => (document.querySelector('.status-at') as HTMLElement | null)?.dataset.at !== before,
      first,
      { timeout: 20_000 },
    )
    expect(errors).toEqual([])
    await context.close()
  })

  test('members see no admin area, and the admin pages refuse them', async () => {
    const member = await registerUser(server, 'member')
    const { page, context } = await pageAs(member, 'member')
    await page.getByRole('link', { name: 'Settings' }).waitFor()
    expect(await page.getByRole('navigation', { name: 'Admin' }).count()).toBe(0)
    await page.evaluate(() => (location.hash = '#/admin/users'))
    await page.getByText(/Could not load the accounts: this needs an admin account/).waitFor()
    expect(await page.locator('.users-table tbody tr').count()).toBe(0)
    await context.close()
  })
})

describe.skipIf(!chromiumPath)('browser: settings', () => {
  withServerAndBrowser((s, b) => ((server = s), (browser = b)))

  test('change the password, read usage, export (and import it back), then delete the account', async () => {
    await registerUser(server, 'first-admin')
    const user = await registerUser(server, 'person')
    const ws = await WsClient.connect(server.wsUrl, user.accessToken)
    await ws.completion((await ws.chat('count me')).runId)
    ws.close()
    const { page, context, errors } = await pageAs(user, 'member')

    // Password
    await page.getByRole('link', { name: 'Settings' }).click()
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor()
    await page.getByLabel('Current password').fill('not my password')
    await page.getByLabel('New password').fill('a brand new password')
    await page.getByRole('button', { name: 'Change password' }).click()
    await page.getByRole('alert').filter({ hasText: 'current password is wrong' }).waitFor()
    const newPassword = `new-${crypto.randomUUID()}`
    await page.getByLabel('Current password').fill(user.password)
    await page.getByLabel('New password').fill(newPassword)
    await page.getByRole('button', { name: 'Change password' }).click()
    await page.locator('.form-ok', { hasText: 'Password changed.' }).waitFor()
    expect((await login(server, { email: user.email, password: newPassword })).status).toBe(200)
    expect((await login(server, user)).status).toBe(401)

    // Usage: 30 daily bars, today's holding the one run, and the quota line.
    await page.getByRole('link', { name: 'Usage', exact: true }).click()
    await page.getByRole('heading', { name: 'Usage', level: 1 }).waitFor()
    const bars = page.getByRole('img', { name: 'Runs per day over the last 30 days' }).locator('rect')
    await bars.nth(29).waitFor({ state: 'attached' }) // the chart is drawn once the usage answer arrives
    expect(await bars.count()).toBe(30)
    expect(await bars.last().locator('title').textContent()).toBe(`${new Date().toISOString().slice(0, 10)}: 1 runs`)
    await page.getByText('1 runs (no limit)').waitFor()

    // Export
    await page.getByRole('link', { name: 'Settings' }).click()
    const exported = await downloadText(page, () => page.getByRole('button', { name: 'Download my data' }).click())
    expect(exported.name).toMatch(/\.json$/)
    const doc = JSON.parse(exported.text)
    expect(doc.profile.email).toBe(user.email)
    expect(doc.threads[0].messages[0].content).toBe('count me')
    // The downloaded file imports back as chats ("Import chats" takes an account export too).
    const original = doc.threads[0].thread.id
    await page
      .locator('#import-file')
      .setInputFiles({ name: exported.name, mimeType: 'application/json', buffer: Buffer.from(exported.text) })
    await page.waitForFunction((id) => location.hash.startsWith('#/c/') && !location.hash.includes(id), original)
    await page.locator('.turn-user', { hasText: 'count me' }).waitFor()
    await page.getByRole('link', { name: 'Settings' }).click()
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor()

    // Delete: needs the tick and the right password.
    await page.getByRole('button', { name: 'Delete my account' }).click()
    await page.getByRole('alert').filter({ hasText: 'Tick the box' }).waitFor()
    await page.getByLabel('I understand').check()
    await page.getByLabel('Password', { exact: true }).fill('wrong password')
    await page.getByRole('button', { name: 'Delete my account' }).click()
    await page.getByRole('alert').filter({ hasText: 'password is wrong' }).waitFor()
    expect((await login(server, { email: user.email, password: newPassword })).status).toBe(200)
    await page.getByLabel('Password', { exact: true }).fill(newPassword)
    await page.getByRole('button', { name: 'Delete my account' }).click()
    await page
      .getByRole('button', { name: /Sign in/ })
      .first()
      .waitFor()
    expect((await login(server, { email: user.email, password: newPassword })).status).toBe(401)
    expect(errors).toEqual([])
    await context.close()
  })
})
