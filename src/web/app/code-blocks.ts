/**
 * Code blocks in rendered Markdown get a header with their language (from marked's
 * `language-xyz` class) and a Copy button. Works on the sanitised DOM, after rendering.
 */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    // Clipboard API refused (insecure origin, no permission): the old way.
    const area = document.createElement('textarea')
    area.value = text
    area.setAttribute('readonly', '')
    area.style.position = 'fixed'
    area.style.opacity = '0'
    document.body.append(area)
    area.select()
    const ok = document.execCommand('copy')
    area.remove()
    return ok
  }
}

/** A "Copy" button that says "Copied" for a moment after it worked. */
export function copyButton(getText: () => string, label = 'Copy', accessibleName?: string): HTMLButtonElement {
  const button = document.createElement('button')
  button.type = 'button'
  button.className = 'btn btn-ghost btn-small copy-btn'
  button.textContent = label
  if (accessibleName) button.setAttribute('aria-label', accessibleName)
  button.addEventListener('click', async () => {
    const ok = await copyText(getText())
    button.textContent = ok ? 'Copied' : 'Copy failed'
    button.dataset.copied = String(ok)
    setTimeout(() => {
      button.textContent = label
      delete button.dataset.copied
    }, 1500)
  })
  return button
}

export function enhanceCodeBlocks(container: Element) {
  for (const pre of container.querySelectorAll('pre')) {
    if (pre.parentElement?.classList.contains('code-block')) continue
    const code = pre.querySelector('code')
    const language =
      [...(code?.classList ?? [])].find((c) => c.startsWith('language-'))?.slice('language-'.length) ?? ''
    const wrap = document.createElement('div')
    wrap.className = 'code-block'
    const head = document.createElement('div')
    head.className = 'code-head'
    const lang = document.createElement('span')
    lang.className = 'code-lang'
    lang.textContent = language || 'text'
    head.append(
      lang,
      copyButton(() => (code ?? pre).textContent ?? '', 'Copy', `Copy ${language || 'code'}`),
    )
    pre.replaceWith(wrap)
    wrap.append(head, pre)
  }
}
