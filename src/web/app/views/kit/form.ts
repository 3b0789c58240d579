/** Forms as the app's pages build them: labelled fields, an alert line, one primary action. */
import { type Child, h } from '../../dom'

/** A labelled field; the label points at the control by its id. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLDivElement {
  return h(
    'div',
    { class: 'field' },
    h('label', { for: control.id }, label),
    control,
    hint ? h('p', { class: 'field-hint' }, hint) : null,
  )
}

/** The required one-line name of a new thing (a note's title, a dataset's name): no autofill. */
export function nameInput(id: string, name: string, maxLength: number): HTMLInputElement {
  return h('input', { id, name, required: true, maxlength: String(maxLength), autocomplete: 'off' })
}

/**
 * What a form's `send` throws when the input is not ready (or a result is to be reported as
 * is): its message goes to the alert line unprefixed, and `focus` gets the focus.
 */
export class FormProblem extends Error {
  constructor(
    message: string,
    readonly focus?: HTMLElement,
  ) {
    super(message)
  }
}

export interface CardFormSpec {
  /** The form's own class, beside `card` (e.g. `note-form`). */
  class: string
  /** Its accessible name. */
  label: string
  /** Headings, fields and notes, in order; the alert line and the action follow. */
  body: Child[]
  /** What the submit button shows. */
  submit: Child
  /** The submit button's class (default `btn btn-primary`). */
  submitClass?: string
  /** What the submit button shows while `send` runs (default: what it shows always). */
  busy?: string
  /** Lines between the alert line and the action (e.g. a success status). */
  after?: Child
  /** Prefixes an error's message in the alert line: `Could not add the note` → `Could not add the note: …`. */
  failure: string
  /** Checks and sends the input; the submit button is disabled until it settles. */
  send: () => Promise<void>
}

/** A card form with novalidate (the page checks and says what is missing in its alert line). */
export function cardForm(spec: CardFormSpec): HTMLFormElement {
  const error = h('p', { class: 'form-error', role: 'alert' })
  const submit = h('button', { type: 'submit', class: spec.submitClass ?? 'btn btn-primary' }, spec.submit)
  const form = h(
    'form',
    { class: `card ${spec.class}`, 'aria-label': spec.label, novalidate: true },
    ...spec.body,
    error,
    spec.after,
    h('div', { class: 'form-actions' }, submit),
  )
  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    error.textContent = ''
    const idle = [...submit.childNodes]
    submit.disabled = true
    if (spec.busy) submit.textContent = spec.busy
    try {
      await spec.send()
    } catch (err) {
      if (err instanceof FormProblem) {
        error.textContent = err.message
        err.focus?.focus()
      } else {
        error.textContent = `${spec.failure}: ${(err as Error).message}`
      }
    } finally {
      submit.disabled = false
      if (spec.busy) submit.replaceChildren(...idle)
    }
  })
  return form
}
