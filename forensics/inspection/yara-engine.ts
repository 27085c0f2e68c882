/**
 * YARA-X (`@virustotal/yara-x`, the WebAssembly build of VirusTotal's YARA-X) in this
 * thread: loading the `.wasm`, compiling rule files one by one so an error names its file,
 * and scanning a buffer. Used inside the scan worker (forensics/inspection/scan-worker.ts);
 * nothing here needs a container or a native module, so it runs on Lambda arm64 as is.
 */
import { readFileSync, existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { createRequire } from 'node:module'
import { Compiler, initSync, type Rules } from '@virustotal/yara-x'
import { ValidationError } from '../errors.js'
import { SEVERITIES, type Severity } from './inspection-config.js'

/** The `.wasm` file's name, as the package and the Lambda bundle ship it. */
export const YARA_WASM_FILE = 'yara_x_js_bg.wasm'

/** A named rule file's text. */
export interface RuleSource {
  /** where it came from (file path or `s3://…`), named in errors */
  name: string
  text: string
}

/** One matching rule. */
export interface RuleMatch {
  rule: string
  namespace: string
  tags: string[]
  /** from the rule's `meta: severity = "…"`; `medium` when absent or unknown */
  severity: Severity
  /** patterns that matched, with their first offset */
  patterns: { identifier: string; offset: number }[]
}

/** A rule file does not compile. Permanent: nothing is inspected with the other files alone. */
export class RuleLoadError extends ValidationError {
  constructor(message: string, options?: { cause?: unknown; field?: string }) {
    super(message, options)
    this.name = 'RuleLoadError'
  }
}

/** Where the `.wasm` is: next to this module (the Lambda bundle), or in the package. */
export function yaraWasmPath(): string {
  const here = dirname(fileURLToPath(import.meta.url))
  const beside = join(here, YARA_WASM_FILE)
  if (existsSync(beside)) return beside
  const pkg = createRequire(import.meta.url).resolve('@virustotal/yara-x/package.json')
  return join(dirname(pkg), 'pkg', YARA_WASM_FILE)
}

let loaded = false

/**
 * Instantiates the WebAssembly module once per thread: from `module` when the thread that
 * started this one compiled it ({@link compileYaraModule}), else from the `.wasm` file.
 */
export function loadYara(module?: WebAssembly.Module): void {
  if (loaded) return
  initSync({ module: module ?? readFileSync(yaraWasmPath()) })
  loaded = true
}

let compiled: Promise<WebAssembly.Module | undefined> | undefined

/**
 * The `.wasm` compiled once per process, for every scan worker it starts. A process that
 * holds the compiled module shares V8's machine code with each worker instantiating it, so
 * a new worker (one per scanner, and one after each scan stopped for its budget) does not
 * compile the 6-MB engine again (~0.4 s of CPU each). When it cannot be compiled here, the
 * worker reads the file itself and reports what is wrong.
 */
export function compileYaraModule(): Promise<WebAssembly.Module | undefined> {
  compiled ??= WebAssembly.compile(readFileSync(yaraWasmPath())).catch(() => undefined)
  return compiled
}

const firstLine = (s: string): string => s.split('\n').slice(0, 6).join('\n')

/**
 * Compiles every file into one rule set; the first file that fails aborts with a
 * {@link RuleLoadError} naming it and the compiler's message.
 */
export function compileRules(sources: readonly RuleSource[], module?: WebAssembly.Module): Rules {
  loadYara(module)
  const compiler = new Compiler()
  try {
    for (const s of sources) {
      try {
        compiler.addSource(s.text)
      } catch (e) {
        throw new RuleLoadError(`YARA rule file ${s.name} does not compile: ${firstLine(String((e as Error)?.message ?? e))}\nfix or remove it; nothing is inspected with part of the rules`, { cause: e, field: s.name })
      }
    }
    return compiler.build()
  } finally {
    compiler.free()
  }
}

interface RawMatch {
  identifier: string
  namespace: string
  tags: string[]
  metadata: { identifier: string; value: unknown }[]
  patterns: { identifier: string; matches: { offset: number }[] }[]
}

/** Scans one buffer with compiled rules. */
export function scanWithRules(rules: Rules, data: Uint8Array): RuleMatch[] {
  const result = rules.scan(data) as { matches: RawMatch[] }
  return result.matches.map((m) => {
    const sev = m.metadata.find((x) => x.identifier === 'severity')?.value
    const severity = typeof sev === 'string' && (SEVERITIES as readonly string[]).includes(sev.toLowerCase()) ? (sev.toLowerCase() as Severity) : 'medium'
    return {
      rule: m.identifier,
      namespace: m.namespace,
      tags: m.tags,
      severity,
      patterns: m.patterns.filter((p) => p.matches.length > 0).map((p) => ({ identifier: p.identifier, offset: p.matches[0].offset })),
    }
  })
}
