/**
 * The UI's two HTML pages, written from one shell: the head every page has (charset, viewport,
 * colour scheme, icon, the stylesheet) around each page's own title, script and body. They are
 * handed to Bun's bundler as in-memory files in src/web/app, beside the scripts they load.
 */

const ICON =
  "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E%3Crect width='32' height='32' rx='8' fill='%233556d8'/%3E%3Cpath d='M9 11h14M9 16h10M9 21h6' stroke='white' stroke-width='2.5' stroke-linecap='round'/%3E%3C/svg%3E"

export interface PageSpec {
  title: string
  /** The page's own `<meta>` lines, after the shared ones. */
  meta: string
  /** Its entry script in src/web/app (`./main.ts`). */
  script: string
  /** The body: the boot placeholder its script replaces, and the `<noscript>` line. */
  body: string
}

export function pageShell(spec: PageSpec): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover" />
    <meta name="color-scheme" content="light dark" />
    ${spec.meta}
    <title>${spec.title}</title>
    <link rel="icon" href="${ICON}" />
    <link rel="stylesheet" href="./styles.css" />
    <script type="module" src="${spec.script}"></script>
  </head>
  <body>
    ${spec.body}
  </body>
</html>
`
}

/** The app: everything behind sign-in (`/`). */
export const appPage = pageShell({
  title: 'Local Chat',
  meta: '<meta name="theme-color" content="#f6f7f9" />',
  script: './main.ts',
  body: `<div id="app"><p class="boot">Loading…</p></div>
    <noscript>This app needs JavaScript.</noscript>`,
})

/** The public page of a shared chat (`/s/:id`): a small bundle of its own that sends no referrer. */
export const sharePage = pageShell({
  title: 'Shared chat · Local Chat',
  meta: '<meta name="referrer" content="no-referrer" />',
  script: './share.ts',
  body: `<main id="share" class="share-page"><p class="boot">Loading…</p></main>
    <noscript>This page needs JavaScript.</noscript>`,
})
