/** Memory of this process after full collections (Bun.gc(true)), and live objects per type. */
import { readFileSync } from 'node:fs'
import { fmtBytes } from './numbers'

export interface MemorySample {
  rss: number
  heapUsed: number
  /** JSC heap size and live objects (bun:jsc heapStats). */
  heapSize: number
  objects: number
  external: number
  /** Linux /proc/self/status split of RSS: anonymous (malloc, JS heap), file-backed (mapped files, code), shared memory (SQLite's WAL index). */
  rssAnon?: number
  rssFile?: number
  rssShmem?: number
  /** Address space reserved (VmSize): what the allocator has mapped, resident or not. */
  vmSize?: number
  /**
   * The allocator's own figures (mimalloc, which in Bun serves native addons such as libsql too:
   * glibc's malloc_info shows under 3 MiB): memory it has committed, and its peak RSS so far.
   */
  mallocCommitted?: number
  mallocPeakRss?: number
}

function rssSplit(): Pick<MemorySample, 'rssAnon' | 'rssFile' | 'rssShmem' | 'vmSize'> {
  try {
    const status = readFileSync('/proc/self/status', 'utf8')
    const kb = (name: string) => {
      const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)
      return m ? Number(m[1]) * 1024 : undefined
    }
    return { rssAnon: kb('RssAnon'), rssFile: kb('RssFile'), rssShmem: kb('RssShmem'), vmSize: kb('VmSize') }
  } catch {
    return {}
  }
}

/** Memory of this process after full collections (three, with pauses for finalisers and timers). */
export async function memory(): Promise<MemorySample> {
  const { heapStats, memoryUsage } = await import('bun:jsc')
  for (let i = 0; i < 3; i++) {
    Bun.gc(true)
    await Bun.sleep(30)
  }
  const usage = process.memoryUsage()
  const stats = heapStats()
  return {
    rss: usage.rss,
    heapUsed: usage.heapUsed,
    heapSize: stats.heapSize,
    objects: stats.objectCount,
    external: usage.external,
    ...rssSplit(),
    mallocCommitted: memoryUsage().currentCommit,
    mallocPeakRss: memoryUsage().peak,
  }
}

/** Live objects per type (bun:jsc), after full collections. */
export async function objectTypeCounts(): Promise<Record<string, number>> {
  const { heapStats } = await import('bun:jsc')
  Bun.gc(true)
  return { ...heapStats().objectTypeCounts }
}

/** The types whose live count grew most from `a` to `b`. */
export function typeGrowth(a: Record<string, number>, b: Record<string, number>, top = 8): [string, number][] {
  return Object.keys({ ...a, ...b })
    .map((k) => [k, (b[k] ?? 0) - (a[k] ?? 0)] as [string, number])
    .filter(([, d]) => d !== 0)
    .sort((x, y) => y[1] - x[1])
    .slice(0, top)
}

export const fmtMemory = (m: MemorySample) =>
  `rss ${fmtBytes(m.rss)}${m.rssAnon !== undefined ? ` (anon ${fmtBytes(m.rssAnon)}, file ${fmtBytes(m.rssFile ?? 0)}, shmem ${fmtBytes(m.rssShmem ?? 0)})` : ''}, heap used ${fmtBytes(m.heapUsed)}, heap size ${fmtBytes(m.heapSize)}, ${m.objects.toLocaleString('en-US')} objects${m.mallocCommitted !== undefined ? `, allocator: ${fmtBytes(m.mallocCommitted)} committed, ${fmtBytes(m.vmSize ?? 0)} mapped, RSS peak ${fmtBytes(m.mallocPeakRss ?? 0)}` : ''}`
