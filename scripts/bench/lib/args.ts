/** Command-line flags of the benchmarks: `--name value` or `--name=value`. */

/** `--name value` or `--name=value`; the fallback when absent. */
export function arg(name: string, fallback: string): string
export function arg(name: string, fallback?: string): string | undefined
export function arg(name: string, fallback?: string): string | undefined {
  const args = process.argv.slice(2)
  const i = args.indexOf(`--${name}`)
  if (i >= 0 && args[i + 1] !== undefined) return args[i + 1]
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback
}

/** Several whole-number flags at once: `intArgs({ users: 50, runs: 4 })` reads --users and --runs. */
export function intArgs<K extends string>(defaults: Record<K, number>): Record<K, number> {
  return Object.fromEntries(
    Object.entries<number>(defaults).map(([name, fallback]) => [name, intArg(name, fallback)]),
  ) as Record<K, number>
}

export function intArg(name: string, fallback: number): number {
  const raw = arg(name)
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} must be a whole number ≥ 0, got ${raw}`)
    process.exit(2)
  }
  return n
}
