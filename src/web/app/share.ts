/**
 * The public page of a shared chat (`/s/:id`): a read-only snapshot fetched from
 * `/api/shares/:id/public`, rendered with the app's own sanitised Markdown. It shows no one's
 * identity: only "You" and "Assistant".
 */
import { renderMarkdown } from './markdown'
import { enhanceCodeBlocks } from './code-blocks'

interface PublicShare {
  title: string
  createdAt: string
  messages: { role: string; content: string; agent?: string; createdAt: string }[]
}

const root = document.getElementById('share')!

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string) {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined) node.textContent = text
  return node
}

function render(share: PublicShare) {
  document.title = `${share.title} · shared chat`
  root.replaceChildren()
  const header = el('header', 'share-header')
  const brand = el('p', 'brand')
  brand.append(el('span', 'brand-mark'), el('span', undefined, 'Local Chat'))
  const h1 = el('h1', 'share-title', share.title)
  const when = el('p', 'muted share-meta', `Shared snapshot · ${new Date(share.createdAt).toLocaleString()}`)
  header.append(brand, h1, when)
  const list = el('ol', 'share-messages')
  list.setAttribute('aria-label', 'Messages')
  for (const m of share.messages) {
    const item = el('li', `share-message share-${m.role === 'user' ? 'user' : 'assistant'}`)
    item.append(el('p', 'share-speaker', m.role === 'user' ? 'You' : 'Assistant'))
    const body = el('div', m.role === 'user' ? 'bubble' : 'answer markdown')
    if (m.role === 'user') body.textContent = m.content
    else {
      body.innerHTML = renderMarkdown(m.content)
      enhanceCodeBlocks(body)
    }
    item.append(body)
    list.append(item)
  }
  root.append(header, list)
}

async function load() {
  const id = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] ?? '')
  const res = await fetch(`/api/shares/${encodeURIComponent(id)}/public`, { referrerPolicy: 'no-referrer' })
  if (!res.ok) {
    root.replaceChildren(
      el('h1', 'share-title', 'This link is not available'),
      el('p', 'muted', 'It may have been revoked by the person who shared it.'),
    )
    return
  }
  render((await res.json()) as PublicShare)
}

void load()
