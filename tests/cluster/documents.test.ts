/**
 * `document_status` frames in cluster mode: a document uploaded through one process reaches its
 * owner's sockets on another process (through Redis), and nobody else's.
 */
import { expect, setDefaultTimeout, test } from 'bun:test'
import { describeCluster, type DescribeClusterOptions } from '../support/cluster'

setDefaultTimeout(60_000)

const CLUSTER: DescribeClusterOptions = { nodes: 2, users: 2, userName: 'docs' }

describeCluster('document status across processes', CLUSTER, ({ cluster, users: [alice, bob] }) => {
  test('an upload on process 0 is followed on process 1 up to ready; another user hears nothing', async () => {
    const aliceOnB = await cluster.connect(alice, 1)
    const bobOnB = await cluster.connect(bob, 1)
    const res = await cluster.api(0, '/api/documents', {
      token: alice.accessToken,
      body: { name: 'river.txt', text: 'The river floods every spring.\n\nThe dam was built in 1950.' },
    })
    expect(res.status).toBe(202)
    const { document } = (await res.json()) as any
    const ready = await aliceOnB.waitFor(
      (f) => f.type === 'document_status' && f.document.id === document.id && f.document.status === 'ready',
      30_000,
    )
    expect(ready.document).toMatchObject({ name: 'river.txt', progress: 1 })
    // Each status reached process 1 once (not also echoed back by the process that sent it).
    const statuses = aliceOnB.frames
      .filter((f) => f.type === 'document_status')
      .map((f) => `${f.document.status}:${f.document.progress}`)
    expect(new Set(statuses).size).toBe(statuses.length)
    const { document: onB } = await cluster.json(1, `/api/documents/${document.id}`, { token: alice.accessToken })
    expect(onB.status).toBe('ready')
    expect(bobOnB.frames.some((f) => f.type === 'document_status')).toBe(false)
    aliceOnB.close()
    bobOnB.close()
  })
})
