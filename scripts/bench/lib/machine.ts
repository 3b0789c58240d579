/** What machine a benchmark ran on, and its load: printed first and stored with each result. */
import { cpus, loadavg, release, totalmem } from 'node:os'

export interface MachineInfo {
  nproc: number
  cpuModel: string
  memTotalMiB: number
  bun: string
  bunRevision: string
  os: string
  fdLimit: string
  gitRev: string
}

function sh(command: string): string {
  try {
    const out = Bun.spawnSync(['sh', '-c', command], { stdout: 'pipe', stderr: 'ignore' })
    return out.stdout.toString().trim()
  } catch {
    return ''
  }
}

let machineCache: MachineInfo | undefined
export function machine(): MachineInfo {
  machineCache ??= {
    nproc: Number(sh('nproc')) || navigator.hardwareConcurrency || cpus().length,
    cpuModel: cpus()[0]?.model?.trim() ?? 'unknown',
    memTotalMiB: Math.round(totalmem() / 2 ** 20),
    bun: Bun.version,
    bunRevision: Bun.revision.slice(0, 9),
    os: `${process.platform} ${release()}`,
    fdLimit: sh('ulimit -n'),
    gitRev: `${sh('git rev-parse --short HEAD') || 'unknown'}${sh('git status --porcelain --untracked-files=no') ? ' (+ uncommitted changes)' : ''}`,
  }
  return machineCache
}

export function printMachine(title: string) {
  const m = machine()
  console.log(`\n=== ${title} ===`)
  console.log(
    `machine: ${m.nproc} cores (${m.cpuModel}), ${m.memTotalMiB} MiB RAM, bun ${m.bun} (${m.bunRevision}), ${m.os}, ulimit -n ${m.fdLimit}, code ${m.gitRev}`,
  )
  console.log(
    `load average at start: ${load()} (other processes on the machine skew every figure; compare runs at similar load)`,
  )
}

/** 1/5/15-minute load averages. */
export const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ')
/** The load average when the benchmark started (this module is loaded first). */
export const startLoad = load()
