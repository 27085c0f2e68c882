/**
 * Progress of long work as counts, bytes and rate: `add` after each item; a line at most
 * every `everyMs` (default 1 s), always for the last item when the total is known, and
 * from `done()` when it is not.
 * Callers print only where someone watches (a terminal, not --json or a pipe).
 */

/** What a line is made from. */
export interface MeterState {
  items: number
  total?: number
  bytes: number
  /** a second count the caller keeps (events matched, delete markers, …) */
  extra: number
  mibPerSecond: number
}

/** Options of {@link progressMeter}. */
export interface MeterOptions {
  total?: number
  now?: () => number
  everyMs?: number
}

/** See the module comment. */
export function progressMeter(progress: (line: string) => void, describe: (s: MeterState) => string, opts: MeterOptions = {}): { add(bytes: number, extra?: number): void; done(): void } {
  const now = opts.now ?? Date.now
  const everyMs = opts.everyMs ?? 1000
  const started = now()
  const state: MeterState = { items: 0, total: opts.total, bytes: 0, extra: 0, mibPerSecond: 0 }
  let last = -Infinity
  let shown = -1
  const show = (t: number): void => {
    last = t
    shown = state.items
    state.mibPerSecond = state.bytes / 2 ** 20 / Math.max((t - started) / 1000, 0.001)
    progress(describe(state))
  }
  return {
    add(bytes, extra = 0) {
      state.items++
      state.bytes += bytes
      state.extra += extra
      const t = now()
      if (state.items === state.total || t - last >= everyMs) show(t)
    },
    /** the final line, unless the last item already gave it (or there was none) */
    done() {
      if (state.items > 0 && shown !== state.items) show(now())
    },
  }
}

/** `1.5 MiB` */
export const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`
