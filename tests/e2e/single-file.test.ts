/**
 * The single-file build (`bun run build`): built once for this file into a temp folder, started
 * from an empty folder with no bun on PATH, it keeps its data in ./data, serves the UI, registers,
 * chats through the scripted Ollama with all five events, stores CSV datasets and ingests a PDF
 * (each parsed on a worker thread), and stops cleanly on SIGTERM.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { spawnServer } from '../support/child-server'
import { startFakeOllama, type FakeOllama } from '../support/fake-ollama'
import { WsClient } from '../support/ws-client'
import { eventually } from '../support/eventually'
import { makePdf } from '../support/documents'
import { CRITICAL_EVENTS } from '../../src/runs/events'

setDefaultTimeout(120_000)

const root = resolve(import.meta.dir, '../..')
const buildDir = mkdtempSync(join(tmpdir(), 'chat-single-file-'))
const binary = join(buildDir, 'local-chat-server')
const dirs = [buildDir]
let ollama: FakeOllama

beforeAll(async () => {
  const build = Bun.spawn([process.execPath, 'scripts/build.ts', '--outfile', binary], {
    cwd: root,
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [code, out, err] = await Promise.all([
    build.exited,
    new Response(build.stdout).text(),
    new Response(build.stderr).text(),
  ])
  if (code !== 0) throw new Error(`bun run build failed: ${out}${err}`)
  ollama = await startFakeOllama({
    // The planner calculates, then answers from the tool result.
    handler: (req) =>
      req.messages.at(-1)?.role === 'tool'
        ? { content: `It is ${JSON.parse(req.messages.at(-1).content).value}.`, chunkSize: 3 }
        : { toolCalls: [{ name: 'calculate', arguments: { expression: '6 * 7' } }] },
  })
})

afterAll(async () => {
  await ollama?.close()
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

test('the executable runs the whole server on its own', async () => {
  expect(existsSync(binary)).toBe(true)
  const dir = mkdtempSync(join(tmpdir(), 'chat-single-file-run-'))
  dirs.push(dir)
  // No bun on PATH, no DATABASE_URL: everything it needs is inside, and its data goes to ./data.
  const child = spawnServer({ PATH: '/nonexistent', OLLAMA_HOST: ollama.url, DATABASE_URL: '', JWT_SECRET: '' }, dir, [
    binary,
  ])
  try {
    const base = await child.url()
    expect(existsSync(join(dir, 'data', 'chat.db'))).toBe(true)
    expect(existsSync(join(dir, 'data', 'jwt-secret'))).toBe(true)

    // The UI and its assets are served from inside the executable.
    const page = await fetch(base + '/')
    expect(page.status).toBe(200)
    const html = await page.text()
    const assets = [...html.matchAll(/\/assets\/[^"']+/g)].map((m) => m[0])
    expect(assets.length).toBeGreaterThan(0)
    for (const asset of assets) expect((await fetch(base + asset)).status).toBe(200)

    const registered = await fetch(base + '/api/auth/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'single@example.com', password: 'a long and unusual passphrase 42' }),
    })
    expect(registered.status).toBe(201)
    const { accessToken } = (await registered.json()) as { accessToken: string }
    const ws = await WsClient.connect(base.replace('http', 'ws') + '/ws', accessToken)
    const { runId } = await ws.chat('what is six times seven?', { agent: 'planner' })
    const events = await ws.completion(runId)
    ws.close()
    for (const type of CRITICAL_EVENTS) expect(events.some((e) => e.type === type)).toBe(true)
    expect(events.find((e) => e.type === 'tool_completed')).toMatchObject({
      tool: 'calculate',
      ok: true,
      result: { value: 42 },
    })
    expect(events.at(-1)).toMatchObject({
      type: 'agent_completed',
      status: 'completed',
      message: { content: 'It is 42.' },
    })

    // Past 4 MiB of log, checkpoints run on a worker thread, an entry point of its own inside the
    // executable (scripts/build.ts): two 3.8 MB datasets, then its counter on /metrics. Each CSV
    // is parsed on a worker thread of its own entry point too: one that failed to start would
    // leave the upload unanswered or a 500.
    const rows = Array.from({ length: 60_000 }, (_, i) => `${i},name-${i}-${'y'.repeat(40)},${i * 3}`)
    const csv = ['id,name,amount', ...rows].join('\n')
    for (const name of ['big-a', 'big-b']) {
      const uploaded = await fetch(base + '/api/datasets', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
        body: JSON.stringify({ name, csv }),
      })
      expect(uploaded.status).toBe(201)
    }
    const checkpoints = async () => {
      const text = await (await fetch(base + '/metrics')).text()
      return Number(/^chat_db_wal_checkpoints_total (\d+)$/m.exec(text)?.[1] ?? 0)
    }
    expect(await eventually(checkpoints, 20_000, 'a checkpoint by the worker thread')).toBeGreaterThan(0)
    expect(child.lines.some((l) => l.includes('checkpoint worker failed'))).toBe(false)

    // PDFs are read on a worker thread too, the executable's other own entry point: one that
    // failed to start would leave the upload's check or its text unread.
    const form = new FormData()
    form.append('file', new File([await makePdf(['The ferry leaves the harbour at dawn.'])], 'ferry.pdf'))
    const upload = await fetch(base + '/api/documents', {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}` },
      body: form,
    })
    expect(upload.status).toBe(202)
    const { document } = (await upload.json()) as { document: { id: string } }
    const ingested = async () => {
      const res = await fetch(`${base}/api/documents/${document.id}`, {
        headers: { authorization: `Bearer ${accessToken}` },
      })
      const { document: now } = (await res.json()) as { document: { status: string } }
      return now.status === 'processing' ? undefined : now
    }
    expect(await eventually(ingested, 20_000, 'the PDF ingested')).toMatchObject({ status: 'ready', chunks: 1 })

    // `local-chat-server backup <file>` copies the live database (what `bun run backup` does).
    const backup = Bun.spawn([binary, 'backup', join(dir, 'copy.db')], {
      cwd: dir,
      env: { PATH: '/nonexistent' },
      stdout: 'pipe',
      stderr: 'pipe',
    })
    const [backupCode, backupOut] = await Promise.all([backup.exited, new Response(backup.stdout).text()])
    expect(backupCode).toBe(0)
    expect(backupOut).toContain('integrity ok')

    child.proc.kill('SIGTERM')
    expect(await child.proc.exited).toBe(0)
    await child.stdoutDone
    expect(child.lines.some((l) => l.includes('"shutting down"'))).toBe(true)
  } finally {
    if (child.proc.exitCode === null) child.proc.kill('SIGKILL')
  }
})
