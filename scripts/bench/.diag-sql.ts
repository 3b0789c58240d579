import { LoadClients, startBenchServer, makeUsers } from './lib'
const clients = await LoadClients.spawn()
const { url } = await clients.startFake({ mode: 'echo', chunkSize: 4 })
const bs = await startBenchServer({ ollamaUrl: url })
const users = await makeUsers(bs, 20, { httpCount: 2 })
await clients.open(bs.wsUrl, users, 1)
await clients.chat(users.map((u) => ({ userId: u.id, runs: 1 })))
const client: any = bs.server.services.database.client
const stats = new Map<string, { n: number; ms: number }>()
for (const m of ['execute', 'batch']) {
  const orig = client[m].bind(client)
  client[m] = async (...a: any[]) => {
    const t = performance.now()
    try { return await orig(...a) } finally {
      const sql = m === 'batch' ? 'BATCH' : (typeof a[0] === 'string' ? a[0] : a[0].sql).slice(0, 90)
      const key = sql.replace(/\(\?, \?.*$/, '(...)')
      const s = stats.get(key) ?? { n: 0, ms: 0 }
      s.n++; s.ms += performance.now() - t; stats.set(key, s)
    }
  }
}
const r = await clients.chat(users.map((u) => ({ userId: u.id, runs: 10, concurrency: 2, reuseThread: true })))
console.log('runs', r.runs)
for (const [k, v] of [...stats].sort((a, b) => b[1].ms - a[1].ms)) console.log(String(v.n).padStart(6), (v.ms).toFixed(0).padStart(6) + 'ms', k)
await clients.stop(); await bs.close(); process.exit(0)
