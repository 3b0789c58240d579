/** A small seeded PRNG (mulberry32): every choice inside a step follows from the step's seed, so a fuzz seed replays. */
export class Rand {
  #state: number
  constructor(seed: number) {
    this.#state = seed >>> 0
  }
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  int(n: number): number {
    return Math.floor(this.next() * n)
  }
  bool(p = 0.5): boolean {
    return this.next() < p
  }
  pick<T>(items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : items[this.int(items.length)]
  }
  /** One of weighted alternatives: `[[3, 'a'], [1, 'b']]`. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    const total = choices.reduce((s, [w]) => s + w, 0)
    let r = this.next() * total
    for (const [w, value] of choices) if ((r -= w) < 0) return value
    return choices[choices.length - 1]![1]
  }
}
