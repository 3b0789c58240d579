/**
 * A small key-value store in IndexedDB that every tab of the origin reads consistently. Tabs may
 * run in different renderer processes, and each keeps its own copy of localStorage that other
 * tabs' writes reach only a moment later — so a tab that takes the refresh lock right after
 * another tab released it can still read the old session from localStorage, and spend a refresh
 * token that was just spent (which ends the session for every tab). An IndexedDB transaction,
 * by contrast, sees every transaction committed before it began.
 */
export interface SharedStore {
  get<T>(key: string): Promise<T | undefined>
  put(key: string, value: unknown): Promise<void>
  delete(key: string): Promise<void>
  /**
   * Reads and writes one key in a single transaction (atomic across tabs): `fn` returns the new
   * value, `null` to delete, or `undefined` to leave it. Resolves true when something was written.
   */
  update<T>(key: string, fn: (current: T | undefined) => T | null | undefined): Promise<boolean>
}

const STORE = 'kv'

/** The store, or undefined where IndexedDB is missing (callers then do without). */
export function indexedDbStore(
  dbName = 'chat-client',
  idb: IDBFactory | undefined = (globalThis as any).indexedDB,
): SharedStore | undefined {
  if (!idb) return undefined
  let opened: Promise<IDBDatabase> | undefined
  const open = () =>
    (opened ??= new Promise<IDBDatabase>((resolve, reject) => {
      const request = idb.open(dbName, 1)
      request.onupgradeneeded = () => request.result.createObjectStore(STORE)
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(request.error)
      request.onblocked = () => reject(new Error('indexedDB blocked'))
    }).catch((error) => {
      opened = undefined // try again next time
      throw error
    }))

  async function transact<T>(
    mode: IDBTransactionMode,
    body: (store: IDBObjectStore, done: (value: T) => void) => void,
  ): Promise<T> {
    const db = await open()
    return new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode)
      let result: T
      body(tx.objectStore(STORE), (value) => (result = value))
      // Resolved on commit, so whatever was written is durable and visible to the next reader.
      tx.oncomplete = () => resolve(result)
      tx.onerror = () => reject(tx.error)
      tx.onabort = () => reject(tx.error ?? new Error('indexedDB transaction aborted'))
    })
  }

  return {
    get: <T>(key: string) =>
      transact<T | undefined>('readonly', (store, done) => {
        const request = store.get(key)
        request.onsuccess = () => done(request.result as T | undefined)
      }),
    put: (key, value) => transact<void>('readwrite', (store) => void store.put(value, key)),
    delete: (key) => transact<void>('readwrite', (store) => void store.delete(key)),
    update: <T>(key: string, fn: (current: T | undefined) => T | null | undefined) =>
      transact<boolean>('readwrite', (store, done) => {
        done(false)
        const request = store.get(key)
        request.onsuccess = () => {
          const next = fn(request.result as T | undefined)
          if (next === undefined) return
          if (next === null) store.delete(key)
          else store.put(next, key)
          done(true)
        }
      }),
  }
}
