/** docs/grafana-dashboard.json queries only metrics the server really exports. */
import { test, expect } from 'bun:test'
import { createMetrics } from '../../../src/metrics'

test('every metric the dashboard queries is in the registry behind /metrics', async () => {
  const dashboard = await Bun.file(new URL('../../../docs/grafana-dashboard.json', import.meta.url)).json()
  const exported = new Set(
    (await createMetrics({ processMetrics: false }).registry.getMetricsAsJSON()).map((m) => m.name),
  )
  const queried = new Set<string>()
  for (const panel of dashboard.panels)
    for (const target of panel.targets)
      for (const name of String(target.expr).match(/chat_[a-z_]+/g) ?? [])
        queried.add(name.replace(/_(bucket|sum|count)$/, ''))
  expect(queried.size).toBeGreaterThanOrEqual(5)
  for (const name of queried) expect({ name, exported: exported.has(name) }).toEqual({ name, exported: true })
  expect(dashboard.panels.map((p: any) => p.title)).toEqual(
    expect.arrayContaining([
      'Runs in progress',
      'Circuit state per Ollama host',
      'First-token latency',
      'Run failure rate',
      'Alerts',
    ]),
  )
})
