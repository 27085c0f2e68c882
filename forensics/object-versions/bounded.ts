/**
 * Runs an async function over a (possibly endless) stream of items with bounded
 * concurrency and a byte budget. Items are pulled only when there is room, so the
 * producer (a paginated listing) is held back: memory stays bounded by the limits, not by
 * the number of items.
 */

/** Limits of {@link forEachBounded}. */
export interface BoundedOptions<T> {
  /** tasks in flight at once */
  concurrency: number
  /** cost of one item against `budget` (e.g. its buffered bytes); default 0 */
  weight?: (item: T) => number
  /** total weight in flight; an item heavier than the budget runs alone */
  budget?: number
}

/**
 * Calls `fn` for every item, at most `concurrency` at a time and within the byte budget.
 * On the first failure (of a task or of the item stream) it stops pulling, lets the running
 * tasks settle, and rethrows.
 */
export async function forEachBounded<T>(items: AsyncIterable<T> | Iterable<T>, opts: BoundedOptions<T>, fn: (item: T) => Promise<void>): Promise<void> {
  const inflight = new Set<Promise<void>>()
  const budget = opts.budget ?? Infinity
  let used = 0
  let failure: { error: unknown } | undefined
  try {
    for await (const item of items) {
      const w = opts.weight?.(item) ?? 0
      while (!failure && inflight.size > 0 && (inflight.size >= opts.concurrency || used + w > budget)) await Promise.race(inflight)
      if (failure) break
      used += w
      const task: Promise<void> = fn(item)
        .catch((error: unknown) => {
          failure ??= { error }
        })
        .finally(() => {
          used -= w
          inflight.delete(task)
        })
      inflight.add(task)
    }
  } finally {
    // also when the item stream itself fails: running tasks settle before anyone sees the error
    await Promise.all(inflight)
  }
  if (failure) throw failure.error
}
