/**
 * The open chat's own actions in its header: Export (JSON with every version, or Markdown)
 * and Share (a read-only snapshot link, copied or revoked in place).
 */
import type { AppContext } from '../context'
import { copyButton } from '../code-blocks'
import { h, icon, icons } from '../dom'

function download(blob: Blob, fileName: string) {
  const url = URL.createObjectURL(blob)
  const a = h('a', { href: url, download: fileName, class: 'sr-only' })
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

export function threadActions(ctx: AppContext, threadId: () => string | undefined): HTMLElement {
  // ---- export ----
  const exportMenu = h('details', { class: 'menu export-menu' })
  const exportAs = (format: 'json' | 'markdown') => async () => {
    const id = threadId()
    if (!id) return
    exportMenu.open = false
    try {
      const file = await ctx.api.exportThread(id, format)
      download(file.blob, file.fileName)
      ctx.announce(`Exported ${file.fileName}`)
    } catch (error) {
      ctx.toast(`Could not export: ${(error as Error).message}`)
    }
  }
  exportMenu.append(
    h('summary', { class: 'btn btn-ghost btn-small' }, icon(icons.download), h('span', null, 'Export')),
    h(
      'div',
      { class: 'menu-panel' },
      h('button', { type: 'button', class: 'menu-item', onclick: exportAs('json') }, 'JSON (every version)'),
      h('button', { type: 'button', class: 'menu-item', onclick: exportAs('markdown') }, 'Markdown (this version)'),
    ),
  )

  // ---- share ----
  const panel = h('div', { class: 'share-panel card', role: 'dialog', 'aria-label': 'Share this chat' })
  panel.hidden = true
  const shareBtn = h(
    'button',
    { type: 'button', class: 'btn btn-ghost btn-small share-btn', 'aria-expanded': 'false' },
    icon(icons.share),
    h('span', null, 'Share'),
  )
  const close = () => {
    panel.hidden = true
    shareBtn.setAttribute('aria-expanded', 'false')
  }
  shareBtn.addEventListener('click', async () => {
    if (!panel.hidden) return close()
    const id = threadId()
    if (!id) return
    shareBtn.disabled = true
    try {
      const share = await ctx.api.share(id)
      const url = h('input', {
        class: 'share-url',
        readonly: true,
        value: share.url,
        'aria-label': 'Share link',
      }) as HTMLInputElement
      const revoke = h('button', { type: 'button', class: 'btn btn-small btn-danger revoke-btn' }, 'Stop sharing')
      revoke.addEventListener('click', async () => {
        try {
          await ctx.api.revokeShare(share.id)
          panel.replaceChildren(h('p', { role: 'status' }, 'The link no longer works.'))
          ctx.announce('Sharing stopped')
          setTimeout(close, 1500)
        } catch (error) {
          ctx.toast(`Could not stop sharing: ${(error as Error).message}`)
        }
      })
      panel.replaceChildren(
        h(
          'p',
          { class: 'share-note' },
          'Anyone with this link can read this chat as it is now. Later messages are not included.',
        ),
        url,
        h(
          'div',
          { class: 'form-actions' },
          revoke,
          copyButton(() => share.url, 'Copy link'),
        ),
      )
      panel.hidden = false
      shareBtn.setAttribute('aria-expanded', 'true')
      url.focus()
      url.select()
    } catch (error) {
      ctx.toast(`Could not share: ${(error as Error).message}`)
    } finally {
      shareBtn.disabled = false
    }
  })
  panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      close()
      shareBtn.focus()
    }
  })
  return h('div', { class: 'chat-actions' }, exportMenu, shareBtn, panel)
}
