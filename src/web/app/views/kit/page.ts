/** The frame every page of the app shares: a section labelled by its heading, and its status line. */
import { type Child, h } from '../../dom'

export interface PageSpec {
  /** The page's own class, beside `page` (e.g. `notes-page`). */
  class: string
  /** The id of its h1, which labels the section. */
  headingId: string
  title: string
  /** A muted line above the heading (the section the page belongs to). */
  breadcrumb?: string
  /** The muted line under the heading that says what the page is for. */
  intro?: Child
}

export function pageSection(spec: PageSpec, ...content: Child[]): HTMLElement {
  return h(
    'section',
    { class: `page ${spec.class}`, 'aria-labelledby': spec.headingId },
    spec.breadcrumb ? h('p', { class: 'muted breadcrumb' }, spec.breadcrumb) : null,
    h('h1', { id: spec.headingId }, spec.title),
    spec.intro ? h('p', { class: 'muted page-intro' }, spec.intro) : null,
    ...content,
  )
}

/** A polite status line (screen readers announce it): "Loading…" until a list says otherwise. */
export function statusLine(text = 'Loading…'): HTMLParagraphElement {
  return h('p', { class: 'muted', role: 'status' }, text)
}

/** A section heading inside a page or card. */
export function sectionHeading(text: string): HTMLHeadingElement {
  return h('h2', { class: 'section-heading' }, text)
}

/** An alert line in place of what could not be loaded. */
export function alertLine(text: string): HTMLParagraphElement {
  return h('p', { class: 'form-error', role: 'alert' }, text)
}

/** Runs a page's load; if it fails, the page's status line says so (`Could not load notes: …`). */
export async function loadReporting(status: HTMLElement, what: string, load: () => Promise<void>): Promise<void> {
  try {
    await load()
  } catch (err) {
    status.textContent = `Could not load ${what}: ${(err as Error).message}`
  }
}
