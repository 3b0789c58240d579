/**
 * Loaded before every test file (bunfig.toml). After the whole run, or when the run is stopped
 * by SIGINT or SIGTERM, the data folders of test servers a test never closed are removed: bun
 * test fires no process 'exit' event.
 */
import { afterAll } from 'bun:test'
import { removeUnclosedTestData } from '../../src/testing/server'

afterAll(removeUnclosedTestData)
// A run stopped from outside (Ctrl-C, a CI timeout's SIGTERM) runs no afterAll: clean up, then end as the signal would.
process.once('SIGINT', () => {
  removeUnclosedTestData()
  process.exit(130)
})
process.once('SIGTERM', () => {
  removeUnclosedTestData()
  process.exit(143)
})
