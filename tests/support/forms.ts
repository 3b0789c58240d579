/** Form checks shared by the browser tests of the UI's pages. */
import { expect } from 'bun:test'
import type { Page } from 'playwright-core'

/** A form's submit button, the alert it shows when its required field is empty, and that field's id. */
export interface RequiredField {
  submit: string
  alert: string
  fieldId: string
}

/**
 * A form sent with its required field empty is refused on the page: an alert says what is
 * missing and keyboard focus moves to that field.
 */
export async function expectRequiredField(page: Page, form: RequiredField) {
  await page.getByRole('button', { name: form.submit }).click()
  await page.getByRole('alert').filter({ hasText: form.alert }).waitFor()
  expect(await page.evaluate(() => document.activeElement?.id)).toBe(form.fieldId)
}
