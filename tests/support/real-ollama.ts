/**
 * For the few tests that need a real model: the Ollama named by OLLAMA_HOST, if it answers.
 * Everything else uses the scripted fake (./fake-ollama). Call once at the top of a test file:
 *
 *   const ollama = await realOllama()
 *   describe.skipIf(!ollama)('with a real model', () => { ... })
 *
 * When OLLAMA_HOST is unset or does not answer, it says why on stderr and the tests skip.
 */
export async function realOllama(): Promise<{ url: string; model: string } | undefined> {
  const raw = process.env.OLLAMA_HOST?.split(',')[0]?.trim()
  if (!raw) {
    console.warn('real-Ollama tests skipped: OLLAMA_HOST is not set')
    return undefined
  }
  const url = (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`).replace(/\/+$/, '')
  try {
    const res = await fetch(`${url}/api/version`, { signal: AbortSignal.timeout(2000) })
    if (!res.ok) throw new Error(`HTTP ${res.status}`)
  } catch (error) {
    console.warn(`real-Ollama tests skipped: ${url} does not answer (${(error as Error).message})`)
    return undefined
  }
  return { url, model: process.env.OLLAMA_MODEL || 'llama3.2' }
}
