/** The results writer: one JSON line per run in scripts/bench/results.jsonl, and the targets table. */
import { appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { load, machine, startLoad } from './machine'

export interface TargetResult {
  name: string
  value: number | string
  target: string
  /** undefined: informational, no target. */
  met?: boolean
}

const RESULTS_FILE = join(import.meta.dir, '..', 'results.jsonl')

export function printTable(rows: (string | number)[][], header?: string[]) {
  const all = header ? [header, ...rows] : rows
  const widths = all[0].map((_, c) => Math.max(...all.map((r) => String(r[c] ?? '').length)))
  const line = (r: (string | number)[]) =>
    r
      .map((v, c) => String(v ?? '').padEnd(widths[c]))
      .join('  ')
      .trimEnd()
  if (header) {
    console.log(line(header))
    console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  }
  for (const r of rows) console.log(line(r))
}

/** Appends one JSON line for this run to scripts/bench/results.jsonl and prints the targets. */
export function recordResult(
  bench: string,
  data: { command: string; params: Record<string, unknown>; figures: Record<string, unknown>; targets: TargetResult[] },
) {
  const entry = {
    bench,
    at: new Date().toISOString(),
    machine: machine(),
    loadAverage: { start: startLoad, end: load() },
    ...data,
  }
  appendFileSync(RESULTS_FILE, JSON.stringify(entry) + '\n')
  console.log('')
  printTable(
    data.targets.map((t) => [t.name, String(t.value), t.target, t.met === undefined ? '—' : t.met ? 'met' : 'MISSED']),
    ['figure', 'measured', 'target', 'result'],
  )
  console.log(`\nload average at end: ${load()} (appended to scripts/bench/results.jsonl)`)
}

/** The command line that ran this script, for the results file. */
export function commandLine(script: string): string {
  const extra = process.argv.slice(2).join(' ')
  return `bun run ${script}${extra ? ` ${extra}` : ''}`
}
