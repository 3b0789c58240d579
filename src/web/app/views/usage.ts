/** Usage: the user's own runs and tokens per day (a bar per day) and where they stand on their quota. */
import { teamsApi, type Quota, type UsageRow } from '../../client/teams-api'
import { barChart } from '../charts'
import type { AppContext, View } from '../context'
import { formatTime, h } from '../dom'
import { alertLine, pageSection, statusLine } from './kit/page'

const DAY = 86_400_000
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10)

export class UsageView implements View {
  readonly el: HTMLElement
  #body: HTMLElement

  constructor(ctx: AppContext) {
    this.#body = h('div', { class: 'usage-body' }, statusLine())
    this.el = pageSection(
      {
        class: 'usage-page',
        headingId: 'usage-heading',
        title: 'Usage',
        intro: 'Your runs and tokens over the last 30 days, and your quota for the last 24 hours.',
      },
      this.#body,
    )
    teamsApi(ctx.api, ctx.session)
      .usage()
      .then(({ usage, quota }) => this.#render(usage, quota))
      .catch((err) => this.#body.replaceChildren(alertLine(`Could not load your usage: ${(err as Error).message}`)))
  }

  #render(usage: UsageRow[], quota: Quota) {
    const perDay = new Map<string, { runs: number; tokens: number }>()
    const today = Date.now()
    for (let i = 29; i >= 0; i--) perDay.set(dayOf(today - i * DAY), { runs: 0, tokens: 0 })
    for (const row of usage) {
      const day = perDay.get(row.day) ?? { runs: 0, tokens: 0 }
      day.runs += row.runs
      day.tokens += row.promptTokens + row.completionTokens
      perDay.set(row.day, day)
    }
    const days = [...perDay.entries()].sort(([a], [b]) => a.localeCompare(b))
    const limit = (used: number, max: number, what: string) =>
      max > 0
        ? `${used.toLocaleString()} of ${max.toLocaleString()} ${what}`
        : `${used.toLocaleString()} ${what} (no limit)`
    const totals = usage.reduce(
      (t, r) => ({
        runs: t.runs + r.runs,
        prompt: t.prompt + r.promptTokens,
        completion: t.completion + r.completionTokens,
      }),
      { runs: 0, prompt: 0, completion: 0 },
    )
    this.#body.replaceChildren(
      h(
        'div',
        { class: 'card quota-card', 'aria-label': 'Quota for the last 24 hours' },
        h('h2', { class: 'section-heading' }, 'Last 24 hours'),
        h('p', { class: 'quota-runs' }, limit(quota.runsUsed, quota.runsPerDay, 'runs')),
        h('p', { class: 'quota-tokens' }, limit(quota.tokensUsed, quota.tokensPerDay, 'tokens')),
        quota.resetsAt
          ? h('p', { class: 'muted' }, `The oldest counted run leaves the window at ${formatTime(quota.resetsAt)}.`)
          : null,
      ),
      h('h2', { class: 'section-heading' }, 'Runs per day'),
      h(
        'div',
        { class: 'card chart-card' },
        barChart(
          days.map(([label, d]) => ({ label, value: d.runs })),
          { label: 'Runs per day over the last 30 days', format: (n) => `${n} runs` },
        ),
      ),
      h('h2', { class: 'section-heading' }, 'Tokens per day'),
      h(
        'div',
        { class: 'card chart-card' },
        barChart(
          days.map(([label, d]) => ({ label, value: d.tokens })),
          { label: 'Tokens per day over the last 30 days', format: (n) => `${n.toLocaleString()} tokens` },
        ),
      ),
      h('h2', { class: 'section-heading' }, 'By day and model'),
      usage.length
        ? h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'data-table usage-table' },
              h(
                'thead',
                null,
                h(
                  'tr',
                  null,
                  ...['Day', 'Model', 'Runs', 'Prompt tokens', 'Completion tokens'].map((c) =>
                    h('th', { scope: 'col' }, c),
                  ),
                ),
              ),
              h(
                'tbody',
                null,
                ...[...usage]
                  .reverse()
                  .map((r) =>
                    h(
                      'tr',
                      null,
                      h('td', null, r.day),
                      h('td', null, r.model),
                      h('td', { class: 'num' }, r.runs),
                      h('td', { class: 'num' }, r.promptTokens.toLocaleString()),
                      h('td', { class: 'num' }, r.completionTokens.toLocaleString()),
                    ),
                  ),
              ),
              h(
                'tfoot',
                null,
                h(
                  'tr',
                  null,
                  h('th', { scope: 'row' }, 'Total'),
                  h('td'),
                  h('td', { class: 'num' }, totals.runs),
                  h('td', { class: 'num' }, totals.prompt.toLocaleString()),
                  h('td', { class: 'num' }, totals.completion.toLocaleString()),
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No runs in the last 30 days.'),
    )
  }

  dispose() {}
}
