/**
 * API keys across processes (PROTOCOL.md §7, §9): a key revoked through one process stops a
 * request streaming with it on another at once — the stream ends with `api_key_revoked` and
 * its run is cancelled — and the key is refused everywhere afterwards. Driven by the official
 * `openai` client.
 */
import { expect, setDefaultTimeout, test } from 'bun:test'
import OpenAI from 'openai'
import { type DescribeClusterOptions, describeCluster, pollEvents } from '../support/cluster'

setDefaultTimeout(60_000)

/** Two processes and a model that streams until the run is stopped. */
const CLUSTER: DescribeClusterOptions = {
  nodes: 2,
  handler: () => ({ content: 'la '.repeat(5000), chunkSize: 3, chunkDelayMs: 20 }),
  users: 1,
  userName: 'keys',
}

describeCluster('a key revoked on one process', CLUSTER, ({ cluster, users: [alice] }) => {
  test('ends the stream using it on another process with api_key_revoked and cancels its run', async () => {
    const { key, secret } = await cluster.json(0, '/api/keys', { token: alice.accessToken, body: { name: 'remote' } })
    const client = new OpenAI({ apiKey: secret, baseURL: `${cluster.nodes[1].base}/v1`, maxRetries: 0 })
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'llama3.2', stream: true, messages: [{ role: 'user', content: 'stream until revoked' }] })
      .withResponse()
    const runId = response.headers.get('x-run-id')!
    const chunks = stream[Symbol.asyncIterator]()
    expect((await chunks.next()).done).toBe(false) // streaming on process 1

    const revoked = await cluster.api(0, `/api/keys/${key.id}`, { token: alice.accessToken, method: 'DELETE' })
    expect(revoked.status).toBe(204)
    const error = await (async () => {
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) {}
    })().then(
      () => undefined,
      (e) => e,
    )
    expect(error).toBeInstanceOf(OpenAI.APIError)
    expect(error.code).toBe('api_key_revoked')
    const events = await pollEvents(cluster, 0, runId, alice.accessToken)
    expect(events.at(-1)).toMatchObject({ type: 'agent_completed', status: 'cancelled' })
    for (const node of [0, 1]) {
      const again = await cluster.api(node, '/v1/models', { token: secret })
      expect(again.status).toBe(401)
    }
  })
})
