/** A tiny DOM helper: `h('button', { class: 'x', onclick: fn }, 'Text')`. No framework. */

export type Child = Node | string | number | null | undefined | false | Child[]
type Props = Record<string, unknown>

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Props | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue
      if (key.startsWith('on') && typeof value === 'function') {
        el.addEventListener(key.slice(2).toLowerCase(), value as EventListener)
      } else if (key === 'class') {
        el.className = String(value)
      } else if (key === 'dataset') {
        for (const [k, v] of Object.entries(value as Record<string, string>))
          if (v !== undefined) el.dataset[k] = String(v)
      } else if (key === 'value' || key === 'checked' || key === 'selected') {
        ;(el as any)[key] = value
      } else if (value === true) {
        el.setAttribute(key, '')
      } else {
        el.setAttribute(key, String(value))
      }
    }
  }
  append(el, children)
  return el
}

export function append(parent: Node, children: Child[]) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    if (Array.isArray(child)) append(parent, child)
    else
      parent.appendChild(
        typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child,
      )
  }
}

export function clear(el: Element) {
  while (el.firstChild) el.removeChild(el.firstChild)
}

/** Static, trusted SVG markup only (icons defined in this codebase). */
export function icon(svg: string, label?: string): HTMLSpanElement {
  const span = h('span', {
    class: 'icon',
    'aria-hidden': label ? undefined : 'true',
    role: label ? 'img' : undefined,
    'aria-label': label,
  })
  span.innerHTML = svg
  return span
}

const path = (d: string) =>
  `<svg viewBox="0 0 24 24" width="18" height="18" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" focusable="false">${d}</svg>`

export const icons = {
  plus: path('<path d="M12 5v14M5 12h14"/>'),
  pencil: path('<path d="M12 20h9"/><path d="M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1 1-4Z"/>'),
  trash: path('<path d="M3 6h18"/><path d="M8 6V4h8v2"/><path d="M19 6l-1 14H6L5 6"/>'),
  menu: path('<path d="M4 6h16M4 12h16M4 18h16"/>'),
  send: path('<path d="M22 2 11 13"/><path d="M22 2 15 22l-4-9-9-4Z"/>'),
  stop: path('<rect x="6" y="6" width="12" height="12" rx="2"/>'),
  tool: path('<path d="M14.7 6.3a4 4 0 0 0-5.4 5.4L3 18l3 3 6.3-6.3a4 4 0 0 0 5.4-5.4l-2.5 2.5-2.4-.6-.6-2.4Z"/>'),
  arrow: path('<path d="M5 12h14M13 6l6 6-6 6"/>'),
  check: path('<path d="M20 6 9 17l-5-5"/>'),
  alert: path('<circle cx="12" cy="12" r="9"/><path d="M12 8v4M12 16h.01"/>'),
  notes: path('<path d="M6 3h9l4 4v14H6z"/><path d="M9 12h6M9 16h6"/>'),
  table: path('<rect x="3" y="4" width="18" height="16" rx="2"/><path d="M3 10h18M9 4v16"/>'),
  chat: path('<path d="M21 12a8 8 0 0 1-11.6 7.1L3 21l1.9-6.4A8 8 0 1 1 21 12Z"/>'),
  copy: path('<rect x="9" y="9" width="12" height="12" rx="2"/><path d="M5 15V5a2 2 0 0 1 2-2h10"/>'),
  settings: path(
    '<circle cx="12" cy="12" r="3"/><path d="M12 2v3M12 19v3M4.9 4.9l2.1 2.1M17 17l2.1 2.1M2 12h3M19 12h3M4.9 19.1 7 17M17 7l2.1-2.1"/>',
  ),
  pin: path('<path d="M9 4h6l-1 6 4 3v2h-5v6l-1 1-1-1v-6H5v-2l4-3Z"/>'),
  archive: path('<rect x="3" y="4" width="18" height="5" rx="1"/><path d="M5 9v10h14V9M10 13h4"/>'),
  search: path('<circle cx="11" cy="11" r="7"/><path d="m20 20-3.5-3.5"/>'),
  share: path(
    '<circle cx="18" cy="5" r="3"/><circle cx="6" cy="12" r="3"/><circle cx="18" cy="19" r="3"/><path d="m8.6 13.5 6.8 4M15.4 6.5l-6.8 4"/>',
  ),
  download: path('<path d="M12 3v12M7 10l5 5 5-5M5 21h14"/>'),
  upload: path('<path d="M12 21V9M7 14l5-5 5 5M5 3h14"/>'),
  logout: path('<path d="M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4"/><path d="M16 17l5-5-5-5M21 12H9"/>'),
}

/** "data_analyst" → "Data analyst" (used when the agent list is unavailable). */
export function humanize(id: string): string {
  const words = id.replace(/[_-]+/g, ' ').trim()
  return words.charAt(0).toUpperCase() + words.slice(1)
}

export function formatTime(iso: string | undefined): string {
  if (!iso) return ''
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return ''
  const today = new Date()
  return d.toDateString() === today.toDateString()
    ? d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return ''
  if (ms < 1000) return `${Math.round(ms)} ms`
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`
}

/** Pretty JSON for tool arguments/results, shortened when huge. */
export function prettyJson(value: unknown, max = 4000): string {
  let text: string
  try {
    text = typeof value === 'string' ? value : JSON.stringify(value, null, 2)
  } catch {
    text = String(value)
  }
  if (text === undefined) text = ''
  return text.length > max ? `${text.slice(0, max)}\n… (${text.length - max} more characters)` : text
}
