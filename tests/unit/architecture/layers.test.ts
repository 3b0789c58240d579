import { describe, expect, test } from 'bun:test'
import { Glob } from 'bun'
import path from 'node:path'

/**
 * Arrows point one way. Every import under src/ (type-only ones too: they tie the code together
 * just as much) is read, and an import from a folder into a folder of a higher layer — or into
 * a folder of its own layer that is not listed as a peer — fails this test, naming the file.
 *
 * The intended layering, top to bottom (a folder may import any folder below its own layer):
 *
 *   testing                          the test kit (local-chat-server/testing): drives the server from outside
 *   index cli embed                  start: the server, the admin command, createChatServer for other programs
 *   app                              composes everything
 *   metrics alerts                   observers of what runs below
 *   ws openai mcp web health setup cluster   the edges: sockets, adapters, static UI, Redis
 *   runs                             run lifecycle, journal, cancellation
 *   agents                           agent definitions and the step loop
 *   tools                            the registry, dispatcher and built-in tools
 *   account → admin → threads notes datasets documents search shares usage   features
 *   llm                              the model provider (fair queue, breaker)
 *   auth → audit                     identity (the route guard every feature uses), audit log
 *   db                               client, schema, scoped repositories
 *   http protocol embedded workers   error classes and request plumbing, the wire contract, assets, worker turns
 *   config → log → context           the floor
 *
 * A feature folder holds its routes (index.ts) beside its service; `http/` is not routes but
 * the error classes and request helpers that routes and repositories share.
 *
 * The browser's code (src/web/app, src/web/client) is bundled apart: it may import only its own
 * files and src/protocol, and src/protocol imports nothing outside itself.
 */
const LAYERS: string[][] = [
  ['testing'],
  ['index', 'cli', 'embed'],
  ['app'],
  ['metrics', 'alerts'],
  ['ws', 'openai', 'mcp', 'web', 'health', 'setup', 'cluster'],
  ['runs'],
  ['agents'],
  ['tools'],
  ['account'],
  ['admin'],
  ['threads', 'notes', 'datasets', 'documents', 'search', 'shares', 'usage'],
  ['llm'],
  ['auth'],
  ['audit'],
  ['db'],
  ['http', 'protocol', 'embedded', 'workers'],
  ['config'],
  ['log'],
  ['context'],
]

/** Same-layer imports that are intended (none yet): `'from>to'`. */
const PEERS = new Set<string>([])

const BROWSER = ['web/app/', 'web/client/']

const SRC = path.join(import.meta.dir, '../../../src')

/** Static imports and re-exports (`import type` too) and dynamic `import('…')`. */
const IMPORT_PATTERNS = [
  /(?:^|\n)\s*(?:import|export)\s+(?:type\s+)?(?:\*(?:\s+as\s+\w+)?|\{[^}]*\}|\w+(?:\s*,\s*(?:\{[^}]*\}|\*\s+as\s+\w+))?)\s+from\s*['"]([^'"]+)['"]/g,
  /(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g,
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
]

interface Import {
  file: string
  /** The imported path inside src/ (no extension), or the package name. */
  target: string
  relative: boolean
}

async function readImports(): Promise<Import[]> {
  const out: Import[] = []
  for (const file of new Glob('**/*.ts').scanSync(SRC)) {
    const text = await Bun.file(path.join(SRC, file)).text()
    for (const pattern of IMPORT_PATTERNS) {
      for (const m of text.matchAll(pattern)) {
        const spec = m[1]
        if (!spec.startsWith('.')) out.push({ file, target: spec, relative: false })
        else
          out.push({
            file,
            target: path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)),
            relative: true,
          })
      }
    }
  }
  return out
}

/** `runs/service.ts` → `runs`; `app.ts` → `app`. */
const folderOf = (file: string) => (file.includes('/') ? file.slice(0, file.indexOf('/')) : file.replace(/\.ts$/, ''))

const layerOf = new Map(LAYERS.flatMap((folders, rank) => folders.map((f) => [f, rank] as const)))

/** The back-arrows and unlisted peer arrows among `imports`, as readable lines. */
function violations(imports: Import[]): string[] {
  const out: string[] = []
  for (const { file, target, relative } of imports) {
    if (!relative) continue
    const from = folderOf(file)
    const to = folderOf(target)
    if (from === to) continue
    const a = layerOf.get(from)
    const b = layerOf.get(to)
    if (a === undefined || b === undefined)
      out.push(`${file} → ${target}: ${a === undefined ? from : to} has no layer in LAYERS`)
    else if (b < a) out.push(`${file} → ${target}: ${from} may not import ${to} (a higher layer)`)
    else if (b === a && !PEERS.has(`${from}>${to}`))
      out.push(`${file} → ${target}: ${from} and ${to} share a layer; list the arrow in PEERS if it is meant`)
  }
  return out
}

/** Strongly connected groups of more than one file: each is an import cycle. */
function cycles(imports: Import[], files: Set<string>): string[][] {
  const resolve = (target: string) =>
    files.has(`${target}.ts`) ? `${target}.ts` : files.has(`${target}/index.ts`) ? `${target}/index.ts` : target
  const edges = new Map<string, Set<string>>()
  for (const i of imports)
    if (i.relative) (edges.get(i.file) ?? edges.set(i.file, new Set()).get(i.file)!).add(resolve(i.target))
  // Tarjan's algorithm.
  let next = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const found: string[][] = []
  const visit = (v: string) => {
    index.set(v, next)
    low.set(v, next++)
    stack.push(v)
    onStack.add(v)
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!))
    }
    if (low.get(v) !== index.get(v)) return
    const group: string[] = []
    let w: string
    do {
      w = stack.pop()!
      onStack.delete(w)
      group.push(w)
    } while (w !== v)
    if (group.length > 1) found.push(group.sort())
  }
  for (const file of files) if (!index.has(file)) visit(file)
  return found
}

describe('the layering of src/', () => {
  test('every folder of src/ has a layer, once', async () => {
    const folders = new Set((await readImports()).map((i) => folderOf(i.file)))
    for (const folder of folders) expect(layerOf.has(folder) ? folder : `${folder} (no layer)`).toBe(folder)
    const listed = LAYERS.flat()
    expect(new Set(listed).size).toBe(listed.length)
  })

  test('no import points up or sideways between folders', async () => {
    const imports = await readImports()
    // The reader must see the imports we know are there, or it checks nothing.
    expect(imports.some((i) => i.file === 'runs/service.ts' && i.target === 'agents/runner')).toBe(true)
    expect(imports.some((i) => i.file === 'agents/runner.ts' && i.target === 'protocol')).toBe(true)
    expect(violations(imports)).toEqual([])
  })

  test('the checker catches a back-arrow (db importing runs) and an unlisted peer arrow', () => {
    const found = violations([
      { file: 'db/repositories/runs.ts', target: 'runs/journal', relative: true },
      { file: 'notes/service.ts', target: 'threads/service', relative: true },
      { file: 'runs/service.ts', target: 'agents/runner', relative: true },
    ])
    expect(found).toHaveLength(2)
    expect(found[0]).toContain('db may not import runs')
    expect(found[1]).toContain('share a layer')
  })

  test('the browser code imports only its own files and src/protocol; src/protocol imports nothing outside itself', async () => {
    const imports = await readImports()
    const browser = imports.filter((i) => BROWSER.some((dir) => i.file.startsWith(dir)))
    expect(browser.length).toBeGreaterThan(10)
    const strays = browser.filter(
      (i) => i.relative && !BROWSER.some((dir) => i.target.startsWith(dir)) && folderOf(i.target) !== 'protocol',
    )
    expect(strays.map((i) => `${i.file} → ${i.target}`)).toEqual([])
    const protocol = imports.filter((i) => folderOf(i.file) === 'protocol')
    expect(
      protocol.filter((i) => !i.relative || folderOf(i.target) !== 'protocol').map((i) => `${i.file} → ${i.target}`),
    ).toEqual([])
  })

  test('no import cycle between files, inside a folder either', async () => {
    const imports = await readImports()
    const files = new Set(new Glob('**/*.ts').scanSync(SRC))
    expect(cycles(imports, files)).toEqual([])
    // …and the finder does find one.
    const loop = [
      { file: 'llm/breaker.ts', target: 'llm/provider', relative: true },
      { file: 'llm/provider.ts', target: 'llm/breaker', relative: true },
    ]
    expect(cycles(loop, new Set(['llm/breaker.ts', 'llm/provider.ts']))).toEqual([
      ['llm/breaker.ts', 'llm/provider.ts'],
    ])
  })
})
