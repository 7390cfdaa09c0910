/**
 * Deadlines that always fire. Not `AbortSignal.timeout()`: Node holds that signal only weakly (the
 * timer keeps a WeakRef so an unused signal can be collected), and inside `AbortSignal.any([…])` on
 * Node 20 nothing else holds it strongly either — under GC pressure the timeout signal is collected
 * and never fires, and a request to a server that accepts and never answers hangs forever
 * (reproduced: test/adapters/hostile-forge-hang.test.ts). Here the timer is a plain `setTimeout`,
 * which the event loop holds strongly until it fires or is cleared, and it is cleared as soon as the
 * work settles.
 *
 * `withDeadline` also races the work against the timer: when the work ignores its signal (a stream
 * that never settles, a library that drops the signal), the caller still gets the timeout error on
 * time. The abandoned work's late rejection is swallowed here, never left unhandled.
 */

export interface Deadline {
  readonly signal: AbortSignal;
  /** true once the timer fired (not when the parent aborted) */
  readonly expired: boolean;
  /** clears the timer and the link to the parent; call when the work settled */
  dispose(): void;
}

/**
 * A signal aborted after `ms` (with `reason()` as its reason) or when `parent` aborts, whichever
 * comes first. The timer is strongly held until `dispose()`.
 */
export function startDeadline(ms: number, reason: () => unknown, parent?: AbortSignal): Deadline {
  const controller = new AbortController();
  let expired = false;
  const timer = setTimeout(
    () => {
      expired = true;
      controller.abort(reason());
    },
    Math.max(0, ms),
  );
  const onParentAbort = () => controller.abort(parent?.reason);
  if (parent?.aborted) onParentAbort();
  else parent?.addEventListener('abort', onParentAbort, { once: true });
  return {
    signal: controller.signal,
    get expired() {
      return expired;
    },
    dispose() {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParentAbort);
    },
  };
}

/**
 * Runs `work(signal)` and settles within `ms`: with its result, its error, or `onTimeout()` when the
 * deadline passed first (the signal is aborted then, so the work can stop). `parent` aborting cuts
 * it short the same way, with the parent's reason.
 */
export async function withDeadline<T>(ms: number, onTimeout: () => Error, work: (signal: AbortSignal) => Promise<T>, parent?: AbortSignal): Promise<T> {
  let timeoutError: Error | undefined;
  const deadline = startDeadline(ms, () => (timeoutError = onTimeout()), parent);
  let running: Promise<T>;
  try {
    running = work(deadline.signal);
  } catch (err) {
    deadline.dispose();
    throw err;
  }
  // the work may settle after we gave up on it; its rejection must not become an unhandled one
  running.catch(() => undefined);
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = () => reject(timeoutError ?? deadline.signal.reason);
    if (deadline.signal.aborted) onAbort();
    else deadline.signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  try {
    return await Promise.race([running, aborted]);
  } finally {
    deadline.dispose();
  }
}
