/** Admin · Status: live runs and queue, circuits per model host, the last hour as small charts, recent alerts. */
import { teamsApi, type StatusSnapshot } from '../../client/teams-api'
import { lineChart } from '../charts'
import type { AppContext, View } from '../context'
import { formatTime, h } from '../dom'
import { alertLine, pageSection, sectionHeading, statusLine } from './kit/page'

const REFRESH_MS = 5000
const pct = (n: number | null) => (n === null ? '—' : `${Math.round(n * 100)} %`)
const secs = (n: number | null) => (n === null ? '—' : `${n.toFixed(2)} s`)

/** A list of `items`, or a muted line saying there are none. */
const listOrNone = (listClass: string, items: HTMLLIElement[], none: string) =>
  items.length ? h('ul', { class: listClass }, ...items) : h('p', { class: 'muted' }, none)

export class AdminStatusView implements View {
  readonly el: HTMLElement
  #body = h('div', { class: 'status-body', 'aria-live': 'off' }, statusLine())
  #timer: ReturnType<typeof setTimeout> | undefined
  #disposed = false

  constructor(ctx: AppContext) {
    const teams = teamsApi(ctx.api, ctx.session)
    this.el = pageSection(
      {
        class: 'admin-page admin-status',
        headingId: 'admin-status-heading',
        title: 'Status',
        intro: `The same figures /metrics exports, refreshed every ${REFRESH_MS / 1000} s.`,
      },
      this.#body,
    )
    const tick = async () => {
      try {
        const snapshot = await teams.status()
        if (!this.#disposed) this.#render(snapshot)
      } catch (err) {
        if (!this.#disposed)
          this.#body.replaceChildren(alertLine(`Could not load the status: ${(err as Error).message}`))
      }
      if (!this.#disposed) this.#timer = setTimeout(tick, REFRESH_MS)
    }
    void tick()
  }

  #render(s: StatusSnapshot) {
    const tile = (label: string, value: string, cls: string) =>
      h(
        'div',
        { class: `card stat ${cls}` },
        h('span', { class: 'stat-value' }, value),
        h('span', { class: 'stat-label muted' }, label),
      )
    const label = (at: string) => new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    this.#body.replaceChildren(
      h(
        'div',
        { class: 'stat-grid' },
        tile('runs in progress', String(s.runsActive), 'stat-runs'),
        tile('waiting for the model', String(s.queueDepth), 'stat-queue'),
        tile('failure rate, last hour', pct(s.lastHour.failureRate), 'stat-failures'),
        tile('first token, last hour', secs(s.lastHour.firstTokenSeconds), 'stat-first-token'),
      ),
      h(
        'div',
        { class: 'chart-grid' },
        h(
          'div',
          { class: 'card chart-card' },
          sectionHeading('First-token latency'),
          lineChart(
            s.series.map((p) => ({ label: label(p.at), value: p.firstTokenSeconds })),
            { label: 'Mean seconds to the first token over the last hour', format: (n) => `${n.toFixed(2)} s` },
          ),
        ),
        h(
          'div',
          { class: 'card chart-card' },
          sectionHeading('Run failure rate'),
          lineChart(
            s.series.map((p) => ({ label: label(p.at), value: p.failureRate })),
            { label: 'Share of failed runs over the last hour', max: 1, format: (n) => `${Math.round(n * 100)} %` },
          ),
        ),
      ),
      sectionHeading('Model hosts'),
      listOrNone(
        'host-list',
        s.hosts.map((host) =>
          h(
            'li',
            { class: `card host host-${host.state}`, dataset: { state: host.state } },
            h('span', { class: 'host-name' }, host.host),
            h('span', { class: 'host-state' }, `circuit ${host.state}`),
          ),
        ),
        'No model host has been used yet.',
      ),
      sectionHeading('Recent alerts'),
      listOrNone(
        'alert-list',
        s.alerts.map((a) =>
          h('li', null, h('time', { datetime: a.at }, formatTime(a.at)), ` ${a.alert} (${a.outcome})`),
        ),
        'No alerts.',
      ),
      h('p', { class: 'muted status-at', dataset: { at: s.at } }, `Updated ${formatTime(s.at)}`),
    )
  }

  dispose() {
    this.#disposed = true
    clearTimeout(this.#timer)
  }
}
