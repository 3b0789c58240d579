/**
 * The numbered source chips under an answer that cites documents: each chip names the document
 * and opens the quoted passage the server checked (PROTOCOL.md §8).
 */
import type { Citation } from '../../../protocol'
import { h, icon, icons } from '../dom'

let nextId = 0

export function sourcesView(citations: Citation[]): HTMLElement | null {
  if (!citations.length) return null
  const panel = h('div', { class: 'source-passage', role: 'region', hidden: true })
  const chips = citations.map((c) => {
    const id = `source-${++nextId}`
    const chip = h(
      'button',
      {
        type: 'button',
        class: 'source-chip',
        'aria-expanded': 'false',
        'aria-controls': id,
        dataset: { n: String(c.n), documentId: c.documentId, chunkId: c.chunkId },
        title: c.documentName,
      },
      h('span', { class: 'source-n' }, String(c.n)),
      h('span', { class: 'source-name' }, c.documentName),
    )
    chip.addEventListener('click', () => {
      const open = chip.getAttribute('aria-expanded') === 'true'
      for (const other of chip.parentElement!.querySelectorAll('.source-chip'))
        other.setAttribute('aria-expanded', 'false')
      if (open) {
        panel.hidden = true
        return
      }
      chip.setAttribute('aria-expanded', 'true')
      panel.id = id
      panel.setAttribute('aria-label', `Source ${c.n}: ${c.documentName}`)
      panel.replaceChildren(
        h('div', { class: 'source-title' }, icon(icons.notes), `[${c.n}] ${c.documentName}`),
        h('blockquote', { class: 'source-quote' }, c.quote),
      )
      panel.hidden = false
    })
    return chip
  })
  return h(
    'div',
    { class: 'sources' },
    h('div', { class: 'sources-label' }, 'Sources'),
    h('div', { class: 'source-chips', role: 'group', 'aria-label': 'Sources' }, chips),
    panel,
  )
}
