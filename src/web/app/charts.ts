/**
 * Small SVG charts built with attributes only (the page's CSP forbids inline styles): each bar
 * or point carries a <title> so its value is readable on hover and by screen readers.
 */
const SVG = 'http://www.w3.org/2000/svg'

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  ...children: (SVGElement | string)[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v))
  for (const c of children) el.append(typeof c === 'string' ? document.createTextNode(c) : c)
  return el
}

export interface Bar {
  label: string
  value: number
}

/** A bar per item (e.g. per day), scaled to the largest; `format` writes the values. */
export function barChart(
  bars: Bar[],
  opts: { label: string; format?: (n: number) => string; width?: number; height?: number },
): SVGSVGElement {
  const width = opts.width ?? 560
  const height = opts.height ?? 140
  const format = opts.format ?? ((n: number) => n.toLocaleString())
  const max = Math.max(1, ...bars.map((b) => b.value))
  const step = bars.length ? width / bars.length : width
  const chart = svg('svg', {
    viewBox: `0 0 ${width} ${height + 18}`,
    class: 'chart',
    role: 'img',
    'aria-label': opts.label,
    preserveAspectRatio: 'none',
  })
  chart.append(svg('line', { x1: 0, x2: width, y1: height, y2: height, class: 'chart-axis' }))
  bars.forEach((bar, i) => {
    const h = bar.value > 0 ? Math.max(2, (bar.value / max) * (height - 4)) : 0
    chart.append(
      svg(
        'rect',
        { x: i * step + step * 0.15, y: height - h, width: Math.max(1, step * 0.7), height: h, class: 'chart-bar' },
        svg('title', {}, `${bar.label}: ${format(bar.value)}`),
      ),
    )
  })
  if (bars.length) {
    chart.append(svg('text', { x: 0, y: height + 14, class: 'chart-label' }, bars[0].label))
    if (bars.length > 1)
      chart.append(
        svg(
          'text',
          { x: width, y: height + 14, class: 'chart-label', 'text-anchor': 'end' },
          bars[bars.length - 1].label,
        ),
      )
  }
  return chart
}

/** A line over time; null values leave a gap. */
export function lineChart(
  points: { label: string; value: number | null }[],
  opts: { label: string; format?: (n: number) => string; max?: number; width?: number; height?: number },
): SVGSVGElement {
  const width = opts.width ?? 280
  const height = opts.height ?? 90
  const format = opts.format ?? ((n: number) => n.toLocaleString())
  const values = points.map((p) => p.value).filter((v): v is number => v !== null)
  const max = opts.max ?? Math.max(1e-9, ...values)
  const chart = svg('svg', {
    viewBox: `0 0 ${width} ${height}`,
    class: 'chart',
    role: 'img',
    'aria-label': opts.label,
    preserveAspectRatio: 'none',
  })
  chart.append(svg('line', { x1: 0, x2: width, y1: height - 1, y2: height - 1, class: 'chart-axis' }))
  const x = (i: number) => (points.length > 1 ? (i / (points.length - 1)) * width : width / 2)
  const y = (v: number) => height - 2 - (v / max) * (height - 6)
  let d = ''
  points.forEach((p, i) => {
    if (p.value === null) return
    d += `${d && points[i - 1]?.value !== null ? 'L' : 'M'}${x(i).toFixed(1)},${y(p.value).toFixed(1)} `
    chart.append(
      svg(
        'circle',
        { cx: x(i), cy: y(p.value), r: 2.5, class: 'chart-point' },
        svg('title', {}, `${p.label}: ${format(p.value)}`),
      ),
    )
  })
  if (d) chart.prepend(svg('path', { d, class: 'chart-line', fill: 'none' }))
  if (!values.length)
    chart.append(
      svg('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'chart-label' }, 'no data yet'),
    )
  return chart
}
