import { describe, expect, test } from 'bun:test'
import { InboundQueue, frameBytes } from '../../../src/ws/inbound'

describe('frameBytes', () => {
  test('counts the strings a parsed frame holds, roughly as many bytes as its JSON', () => {
    const frame = { type: 'chat', requestId: 'r1', content: 'x'.repeat(100_000) }
    const size = frameBytes(frame)
    expect(size).toBeGreaterThanOrEqual(100_000)
    expect(size).toBeLessThan(JSON.stringify(frame).length + 200)
    expect(frameBytes('y'.repeat(5000))).toBeGreaterThanOrEqual(5000)
    expect(frameBytes(new Uint8Array(4096))).toBeGreaterThanOrEqual(4096)
  })

  test('walks deep nesting without overflowing the stack, and stops counting past the cap', () => {
    let deep: unknown = 'leaf'
    for (let i = 0; i < 200_000; i++) deep = [deep]
    expect(frameBytes(deep)).toBeGreaterThan(200_000)
    const wide = Array.from({ length: 100_000 }, () => 'abcdefgh')
    const capped = frameBytes(wide, 1000)
    expect(capped).toBeGreaterThan(1000) // over the cap is all the caller needs to know
    expect(capped).toBeLessThan(frameBytes(wide))
  })
})

describe('InboundQueue', () => {
  test('admits frames up to the frame and byte limits; releasing makes room again', () => {
    const q = new InboundQueue({ maxFrames: 3, maxBytes: 1000 })
    expect(q.admit(100)).toBe(true)
    expect(q.admit(100)).toBe(true)
    expect(q.admit(900)).toBe(false) // bytes
    expect(q.admit(100)).toBe(true)
    expect(q.admit(1)).toBe(false) // frames
    q.release(100)
    expect(q.admit(1)).toBe(true)
    expect({ frames: q.frames, bytes: q.bytes }).toEqual({ frames: 3, bytes: 201 })
  })

  test('a frame with nothing before it is taken whatever its parsed size; the limits bound what queues behind', () => {
    const q = new InboundQueue({ maxFrames: 3, maxBytes: 1000 })
    expect(q.admit(5000)).toBe(true) // one frame a client sent: handled (or answered with an error frame)
    expect(q.admit(1)).toBe(false) // behind it, the byte limit holds
    q.release(5000)
    expect(q.admit(1)).toBe(true)
  })
})
