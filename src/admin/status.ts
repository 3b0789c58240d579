import type { Registry } from 'prom-client'

/** One point of the status history, taken from the same registry `/metrics` exports. */
export interface StatusSample {
  at: number
  runsActive: number
  queueDepth: number
  runsFinished: number
  runsFailed: number
  firstTokenSum: number
  firstTokenCount: number
}

export interface StatusPoint {
  at: string
  runsActive: number
  queueDepth: number
  /** Mean seconds to the first answer token of the runs that finished in this step (null: none). */
  firstTokenSeconds: number | null
  /** Failed / finished runs in this step (null: none finished). */
  failureRate: number | null
}

export interface RecentAlert {
  at: string
  alert: string
  outcome: string
}

type MetricJson = {
  name: string
  values: { value: number; labels: Record<string, string | number>; metricName?: string }[]
}

const HOUR_MS = 60 * 60 * 1000
const MAX_ALERTS = 50

/** Sums a metric's values, optionally only those whose labels (or series name) match. */
function total(
  metrics: MetricJson[],
  name: string,
  match: (v: MetricJson['values'][number]) => boolean = () => true,
): number {
  return (
    metrics
      .find((m) => m.name === name)
      ?.values.filter(match)
      .reduce((sum, v) => sum + (Number(v.value) || 0), 0) ?? 0
  )
}

/**
 * The admin status page's figures: live runs, queue depth, circuit state per host, and an
 * hour of first-token latency and failure rate, sampled from the metrics registry every
 * `stepMs`, plus the recent alerts. Counts and states only: nothing a user wrote.
 */
export function statusBoard(registry: Registry, opts: { stepMs?: number; now?: () => number } = {}) {
  const stepMs = opts.stepMs ?? 60_000
  const now = opts.now ?? Date.now
  const samples: StatusSample[] = []
  const alerts: RecentAlert[] = []

  async function read(): Promise<{ sample: StatusSample; hosts: { host: string; state: string }[] }> {
    const metrics = (await registry.getMetricsAsJSON()) as unknown as MetricJson[]
    const sample: StatusSample = {
      at: now(),
      runsActive: total(metrics, 'chat_runs_active'),
      queueDepth: total(metrics, 'chat_llm_queue_depth'),
      runsFinished: total(metrics, 'chat_runs_total'),
      runsFailed: total(metrics, 'chat_runs_total', (v) => v.labels.status === 'failed'),
      firstTokenSum: total(
        metrics,
        'chat_run_first_token_seconds',
        (v) => v.metricName === 'chat_run_first_token_seconds_sum',
      ),
      firstTokenCount: total(
        metrics,
        'chat_run_first_token_seconds',
        (v) => v.metricName === 'chat_run_first_token_seconds_count',
      ),
    }
    const hosts = (metrics.find((m) => m.name === 'chat_llm_circuit_state')?.values ?? [])
      .filter((v) => v.value === 1)
      .map((v) => ({ host: String(v.labels.host), state: String(v.labels.state) }))
    return { sample, hosts }
  }

  async function tick() {
    const { sample } = await read()
    samples.push(sample)
    while (samples.length && samples[0].at < sample.at - HOUR_MS - stepMs) samples.shift()
  }

  const timer = setInterval(() => void tick().catch(() => {}), stepMs)
  timer.unref?.()
  void tick().catch(() => {})

  return {
    /** Alerts's `onAlert`: kind and outcome only. */
    alertRaised(alert: string, outcome: string) {
      alerts.unshift({ at: new Date(now()).toISOString(), alert, outcome })
      alerts.length = Math.min(alerts.length, MAX_ALERTS)
    },

    async snapshot() {
      const { sample, hosts } = await read()
      const points: StatusPoint[] = []
      const all = [...samples, sample]
      for (let i = 1; i < all.length; i++) {
        const [a, b] = [all[i - 1], all[i]]
        const finished = b.runsFinished - a.runsFinished
        const counted = b.firstTokenCount - a.firstTokenCount
        points.push({
          at: new Date(b.at).toISOString(),
          runsActive: b.runsActive,
          queueDepth: b.queueDepth,
          firstTokenSeconds: counted > 0 ? (b.firstTokenSum - a.firstTokenSum) / counted : null,
          failureRate: finished > 0 ? (b.runsFailed - a.runsFailed) / finished : null,
        })
      }
      const hourAgo = all.find((s) => s.at >= sample.at - HOUR_MS) ?? sample
      const finishedHour = sample.runsFinished - hourAgo.runsFinished
      return {
        at: new Date(sample.at).toISOString(),
        runsActive: sample.runsActive,
        queueDepth: sample.queueDepth,
        hosts,
        lastHour: {
          runsFinished: finishedHour,
          failureRate: finishedHour > 0 ? (sample.runsFailed - hourAgo.runsFailed) / finishedHour : null,
          firstTokenSeconds:
            sample.firstTokenCount > hourAgo.firstTokenCount
              ? (sample.firstTokenSum - hourAgo.firstTokenSum) / (sample.firstTokenCount - hourAgo.firstTokenCount)
              : null,
        },
        series: points,
        alerts: [...alerts],
      }
    },

    close() {
      clearInterval(timer)
    },
  }
}

export type StatusBoard = ReturnType<typeof statusBoard>
