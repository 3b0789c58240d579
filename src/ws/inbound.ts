/**
 * Frames a connection has received but not yet handled. Frames of one connection are handled
 * one after another, so while one waits (a resume replay paced by a client that stopped
 * reading, a slow database) the next ones queue in memory. This bounds that queue: past
 * `maxFrames` frames or `maxBytes` bytes waiting, the connection is closed with 1013 instead of
 * letting one client pin server memory (its runs stay resumable).
 */
export interface InboundLimits {
  /** Frames that may wait (WS_MAX_QUEUED_FRAMES, default 64). */
  maxFrames: number
  /** Bytes they may hold in all (WS_MAX_QUEUED_BYTES, default 4 MiB). */
  maxBytes: number
}

export const INBOUND_DEFAULTS: InboundLimits = { maxFrames: 64, maxBytes: 4 * 1024 * 1024 }

/**
 * About how many bytes a received frame holds in memory; once past `cap` it stops counting
 * (the answer is then some number over `cap`). Elysia hands
 * over JSON frames already parsed, so this walks the value (iteratively: a deeply nested frame
 * must not overflow the stack) and counts its strings and slots.
 */
export function frameBytes(message: unknown, cap = Number.MAX_SAFE_INTEGER): number {
  let total = 0
  const stack: unknown[] = [message]
  while (stack.length > 0 && total <= cap) {
    const value = stack.pop()
    if (typeof value === 'string') total += value.length + 8
    else if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) total += value.byteLength + 8
    else if (value !== null && typeof value === 'object') {
      total += 16
      for (const key in value) {
        total += key.length + 8
        if (total > cap) break
        stack.push((value as Record<string, unknown>)[key])
      }
    } else total += 8
  }
  return total
}

/** The waiting frames of one connection. */
export class InboundQueue {
  frames = 0
  bytes = 0

  constructor(private readonly limits: InboundLimits) {}

  /**
   * Takes a frame of `size` bytes in; false when it does not fit (the caller closes the
   * connection). A frame with nothing waiting before it is always taken: its size on the wire is
   * already bounded (MAX_FRAME_BYTES, over it 1009), and its parsed size can be several times that
   * (a list of 200,000 zeros), which must not close a client that sent one frame.
   */
  admit(size: number): boolean {
    const first = this.frames === 0
    if (!first && (this.frames + 1 > this.limits.maxFrames || this.bytes + size > this.limits.maxBytes)) return false
    this.frames++
    this.bytes += size
    return true
  }

  /** A frame was handled. */
  release(size: number): void {
    this.frames--
    this.bytes -= size
  }
}
