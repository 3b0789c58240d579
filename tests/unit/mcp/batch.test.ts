import { describe, expect, test } from 'bun:test'
import { withoutSelfCancelled } from '../../../src/mcp/batch'

const call = (id: unknown) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'calculate' } })
const cancel = (requestId: unknown) => ({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId } })

describe('withoutSelfCancelled', () => {
  test('leaves out a request cancelled in the same batch, and that cancel', () => {
    expect(withoutSelfCancelled([call(1), call(2), cancel(1)])).toEqual([call(2)])
    expect(withoutSelfCancelled([call('a'), cancel('a')])).toEqual([])
  })

  test('keeps everything else as it is: single messages, cancels of other ids, responses named alike', () => {
    const single = call(1)
    expect(withoutSelfCancelled(single)).toBe(single)
    const other = [call(1), cancel(9)]
    expect(withoutSelfCancelled(other)).toBe(other)
    // A response (no method) with the cancelled id is not a request; a cancel with an id is a request.
    const mixed = [
      { jsonrpc: '2.0', id: 1, result: {} },
      { ...cancel(1), id: 7 },
    ]
    expect(withoutSelfCancelled(mixed)).toBe(mixed)
    expect(withoutSelfCancelled({ not: 'a batch' })).toEqual({ not: 'a batch' })
  })
})
