/**
 * Model output → safe HTML. `marked` turns Markdown into HTML (raw HTML in the text passes
 * through it), then DOMPurify removes everything executable: scripts, event-handler attributes,
 * `javascript:`/`data:` links, forms, frames, inline styles. Links open in a new tab without
 * an opener. The page's Content-Security-Policy is the second line of defence.
 */
import { Marked } from 'marked'
import DOMPurify from 'dompurify'

const marked = new Marked({ gfm: true, breaks: true, async: false })

const SAFE_URL = /^(?:https?:|mailto:|#|\/(?!\/))/i

let hooked = false
function purifier() {
  if (!hooked) {
    hooked = true
    DOMPurify.addHook('afterSanitizeAttributes', (node) => {
      const el = node as Element
      if (el.tagName === 'A') {
        const href = el.getAttribute('href')
        if (href !== null && !SAFE_URL.test(href.trim())) el.removeAttribute('href')
        if (el.hasAttribute('href') && !el.getAttribute('href')!.startsWith('#')) {
          el.setAttribute('target', '_blank')
          el.setAttribute('rel', 'noopener noreferrer nofollow')
        }
      }
      if (el.tagName === 'IMG') {
        const src = el.getAttribute('src')
        if (src !== null && !/^(?:https?:|data:image\/(?:png|gif|jpe?g|webp);)/i.test(src.trim()))
          el.removeAttribute('src')
        el.setAttribute('loading', 'lazy')
        el.setAttribute('referrerpolicy', 'no-referrer')
      }
    })
  }
  return DOMPurify
}

const CONFIG = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: [
    'style',
    'form',
    'input',
    'button',
    'textarea',
    'select',
    'option',
    'iframe',
    'frame',
    'object',
    'embed',
    'base',
    'link',
    'meta',
    'svg',
    'math',
  ],
  FORBID_ATTR: ['style', 'srcset', 'action', 'formaction', 'xlink:href'],
  ALLOW_DATA_ATTR: false,
}

/** Sanitised HTML for a Markdown text. */
export function renderMarkdown(source: string): string {
  const html = marked.parse(source ?? '', { async: false }) as string
  return purifier().sanitize(html, CONFIG) as string
}

/** Renders Markdown into an element. */
export function setMarkdown(el: Element, source: string) {
  el.innerHTML = renderMarkdown(source)
}
