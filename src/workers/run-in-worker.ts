import type { workerTurns } from './turns'

/** One job for a fresh worker thread (a PDF to read, a CSV to parse). */
export interface WorkerJob {
  /** The worker's script. */
  url: string | URL
  /** What it is sent (copied into the thread). */
  message: unknown
  /** Whose turns it waits for, and how many such workers may run at once. */
  turns: ReturnType<typeof workerTurns>
  concurrency: number
  /** How long it may run once it has its turn (the wait does not count). */
  timeoutMs: number
  /** The error for a job stopped at `timeoutMs`. */
  timedOut: () => Error
  /** The error for a worker that failed, from its own message (which may be empty). */
  failed: (message: string) => Error
  /** Stops the job (while it waits for its turn, too), rejecting with the signal's reason. */
  signal?: AbortSignal
  /** `smol`: a heap that collects sooner. */
  smol?: boolean
  /**
   * Made when the worker starts (so it can take its baseline then); its `check` is looked at every
   * `everyMs` while the worker runs, and an error it returns ends the job.
   */
  watch?: () => { everyMs: number; check: () => Error | undefined }
}

/**
 * Runs `job` in a fresh worker thread and ends the thread afterwards, whatever happened: a job
 * past its time is stopped mid-work (`terminate`), which nothing on the server's own thread could
 * do to a library busy in a loop, and a fresh thread per job gives its memory back. Resolves with
 * the worker's one answer.
 */
export async function runInWorker<Reply>(job: WorkerJob): Promise<Reply> {
  const release = await job.turns.take(job.concurrency)
  // Stopped while it waited (the upload deleted, the server stopping): the turn goes on.
  if (job.signal?.aborted) {
    release()
    throw job.signal.reason
  }
  let worker: Worker
  try {
    worker = new Worker(job.url, job.smol ? { smol: true } : undefined)
  } catch (error) {
    release()
    throw error
  }
  return new Promise<Reply>((resolve, reject) => {
    const end = () => {
      clearTimeout(timer)
      clearInterval(watching)
      job.signal?.removeEventListener('abort', aborted)
      worker.terminate()
      release()
    }
    const fail = (error: unknown) => {
      end()
      reject(error)
    }
    const timer = setTimeout(() => fail(job.timedOut()), job.timeoutMs)
    const watch = job.watch?.()
    const watching = watch
      ? setInterval(() => {
          const error = watch.check()
          if (error) fail(error)
        }, watch.everyMs)
      : undefined
    const aborted = () => fail(job.signal?.reason)
    job.signal?.addEventListener('abort', aborted, { once: true })
    worker.onmessage = (event: MessageEvent<Reply>) => {
      end()
      resolve(event.data)
    }
    worker.onerror = (event) => fail(job.failed(event.message))
    worker.postMessage(job.message)
  })
}
