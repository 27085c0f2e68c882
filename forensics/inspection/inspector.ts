/**
 * An inspection session: the rules and IOC lists loaded once (all or nothing), then any
 * number of objects inspected one after another with them.
 */
import { ValidationError } from '../errors.js'
import { inspectObject, type ObjectToInspect, type Verdict } from './inspect-object.js'
import { parseIocLists, type IocIndex, type IocSource } from './ioc-list.js'
import type { RuleSource } from './yara-engine.js'
import { YaraScanner } from './yara-scanner.js'

/** What a session is built from. */
export interface InspectorOptions {
  rules: readonly RuleSource[]
  iocs: readonly IocSource[]
  maxObjectBytes: number
  timeBudgetMs: number
}

/** Loaded rules and IOCs; {@link Inspector.close} stops the scan worker. */
export class Inspector {
  private constructor(
    private readonly scanner: YaraScanner | undefined,
    /** the IOC hashes (hash → list) */
    readonly iocs: IocIndex,
    private readonly opts: InspectorOptions,
  ) {}

  /**
   * Parses the IOC lists and compiles the rules. Any bad file refuses the whole session
   * (a {@link ValidationError} naming it), so nothing is inspected with part of the rules.
   */
  static async open(opts: InspectorOptions): Promise<Inspector> {
    if (opts.rules.length === 0 && opts.iocs.length === 0) {
      throw new ValidationError('no YARA rules and no IOC lists: give at least one rule file or IOC list', { field: 'rules' })
    }
    const iocs = parseIocLists(opts.iocs)
    const scanner = opts.rules.length > 0 ? await YaraScanner.load(opts.rules) : undefined
    return new Inspector(scanner, iocs, opts)
  }

  /** Rule files compiled. */
  get ruleFiles(): number {
    return this.opts.rules.length
  }

  /** Inspects one object (see {@link inspectObject} for the verdicts). */
  inspect(o: ObjectToInspect): Promise<Verdict> {
    return inspectObject(o, { scanner: this.scanner, iocs: this.iocs, maxObjectBytes: this.opts.maxObjectBytes, timeBudgetMs: this.opts.timeBudgetMs })
  }

  /** Stops the scan worker. */
  async close(): Promise<void> {
    await this.scanner?.close()
  }
}
