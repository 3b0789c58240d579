/** Figures of run-event frames counted by the load clients (Counters): rate, a line, a results entry. */
import type { Counters } from './load-clients'
import { fmtMs, fmtRate, round } from './numbers'

/** Frames per second between the first and the last frame counted. */
export const frameRate = (c: Counters) => (c.lastAt > c.firstAt ? c.eventFrames / ((c.lastAt - c.firstAt) / 1000) : 0)

export const describeFrames = (label: string, c: Counters) =>
  `${label}: ${c.eventFrames.toLocaleString('en-US')} frames (${(c.eventBytes / 2 ** 20).toFixed(1)} MiB) in ${fmtMs(c.lastAt - c.firstAt)} → ${fmtRate(frameRate(c))}`

/** The results-file figures of one measured path: its median trial, and every trial's rate when given. */
export const frameFigures = (median: Counters, trials?: Counters[]) => ({
  frames: median.eventFrames,
  bytes: median.eventBytes,
  ms: round(median.lastAt - median.firstAt),
  perSecond: Math.round(frameRate(median)),
  ...(trials && { trials: trials.map((c) => Math.round(frameRate(c))) }),
})
