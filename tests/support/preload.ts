/**
 * Loaded before every test file (bunfig.toml). After the whole run, the data folders of test
 * servers a failed test never closed are removed: bun test fires no process 'exit' event.
 */
import { afterAll } from 'bun:test'
import { removeUnclosedTestData } from '../../src/testing/server'

afterAll(removeUnclosedTestData)
