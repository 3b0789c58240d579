/** The UI's forms refuse to send an empty required field: an alert says what is missing and focus moves to it. */
import { describe, setDefaultTimeout, test } from 'bun:test'
import { chromiumPath, signedInPage, useBrowserStack } from '../../support/browser'
import { expectRequiredField, type RequiredField } from '../../support/forms'

setDefaultTimeout(60_000)

const { server, browser } = useBrowserStack()

/** Each page with such a form: where it is, and its required field. */
const FORMS: [page: string, path: string, form: RequiredField][] = [
  ['notes', '/#/notes', { submit: 'Add note', alert: 'Give the note a title', fieldId: 'note-title' }],
  ['API keys', '/#/settings/api-keys', { submit: 'Create key', alert: 'Give the key a name', fieldId: 'key-name' }],
]

describe.skipIf(!chromiumPath)('browser: required fields', () => {
  test.each(FORMS)('%s: the required field is asked for', async (_, path, form) => {
    const { page, context } = await signedInPage(browser, server, 'form-filler', { path })
    await expectRequiredField(page, form)
    await context.close()
  })
})
