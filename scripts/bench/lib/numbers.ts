/** Percentiles and the formats of the figures the benchmarks print. */

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]
}

export interface Summary {
  n: number
  min: number
  p50: number
  p95: number
  p99: number
  max: number
  mean: number
}

export function summarize(values: number[]): Summary {
  const s = [...values].sort((a, b) => a - b)
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1)
  return {
    n: s.length,
    min: s[0] ?? Number.NaN,
    p50: percentile(s, 50),
    p95: percentile(s, 95),
    p99: percentile(s, 99),
    max: s.at(-1) ?? Number.NaN,
    mean,
  }
}

export const round = (n: number, digits = 2) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : n)
export const fmtMs = (ms: number) =>
  ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 100 ? `${Math.round(ms)} ms` : `${ms.toFixed(2)} ms`
export function fmtBytes(bytes: number): string {
  const abs = Math.abs(bytes)
  if (abs >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`
  if (abs >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`
  if (abs >= 2 ** 10) return `${(bytes / 2 ** 10).toFixed(1)} KiB`
  return `${Math.round(bytes)} B`
}
export const fmtRate = (perSecond: number) => `${Math.round(perSecond).toLocaleString('en-US')}/s`
