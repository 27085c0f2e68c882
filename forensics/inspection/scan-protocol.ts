/**
 * Messages between the {@link YaraScanner} (forensics/inspection/yara-scanner.ts) and its
 * worker thread, and the worker's side of them. The worker owns the WebAssembly engine, so
 * a scan that exceeds its time budget is stopped by terminating the worker.
 */
import { compileRules, scanWithRules, type RuleMatch, type RuleSource } from './yara-engine.js'
import type { Rules } from '@virustotal/yara-x'

/** Main thread → worker. */
export type ToScanWorker =
  /** `module`: the engine compiled by the scanner's thread (V8 shares its machine code) */
  | { type: 'load'; sources: RuleSource[]; module?: WebAssembly.Module }
  | { type: 'scan'; id: number; data: Uint8Array }

/** Worker → main thread. */
export type FromScanWorker =
  | { type: 'loaded'; rules: number }
  | { type: 'load-failed'; name: string; message: string; file?: string }
  | { type: 'matches'; id: number; matches: RuleMatch[] }
  | { type: 'scan-failed'; id: number; message: string }

/** The part of `MessagePort` the worker uses. */
export interface PortLike {
  on(event: 'message', listener: (m: ToScanWorker) => void): unknown
  postMessage(m: FromScanWorker): void
}

/** Serves load and scan requests on `port` (the worker's `parentPort`). */
export function serveScans(port: PortLike): void {
  let rules: Rules | undefined
  port.on('message', (m) => {
    if (m.type === 'load') {
      try {
        rules?.free()
        rules = compileRules(m.sources, m.module)
        port.postMessage({ type: 'loaded', rules: m.sources.length })
      } catch (e) {
        const err = e as Error & { field?: string }
        port.postMessage({ type: 'load-failed', name: err.name, message: err.message, file: err.field })
      }
      return
    }
    try {
      if (!rules) throw new Error('no rules loaded')
      port.postMessage({ type: 'matches', id: m.id, matches: scanWithRules(rules, m.data) })
    } catch (e) /* c8 ignore next 3 */ {
      port.postMessage({ type: 'scan-failed', id: m.id, message: String((e as Error)?.message ?? e) })
    }
  })
}
