/**
 * Builds the whole cdktf app from the config: the forensics stack and one member stack per
 * member account. `stacks/main.ts` is the `cdktf synth` entry; tests and users composing
 * their own app call {@link addForensicsStacks} or {@link synthesizeForensicsApp}.
 */
import { join } from 'node:path'
import { App, type Construct } from './cdktf.js'
import { repositoryRoot, type BundleKey, type BundleOptions, type HandlerBundle } from './bundle.js'
import { containmentBuckets } from './containment.js'
import { ForensicsStack } from './forensics-stack.js'
import { MemberAccountStack } from './member-account-stack.js'
import { loadConfigFile, parseConfig, type ForensicsConfig } from '../forensics/config.js'
import { INSPECTION_PATTERN_KEY, inspectionUploadPattern } from './inspection.js'
import { FUNCTION_KEYS, intakeEventBusArn, resourceNames } from '../forensics/routing.js'
import { triggerPatterns, triggerScope } from './triggers.js'
import { containmentRoute } from '../forensics/containment/route.js'

/** The stacks of one app. */
export interface ForensicsStacks {
  forensics: ForensicsStack
  members: MemberAccountStack[]
}

/** Options for {@link addForensicsStacks}. */
export interface AddStacksOptions {
  bundles?: Record<BundleKey, HandlerBundle>
  bundleOptions?: BundleOptions
}

/** Adds the forensics stack and the member-account stacks to `app`. */
export function addForensicsStacks(app: Construct, config: ForensicsConfig, options: AddStacksOptions = {}): ForensicsStacks {
  const forensics = new ForensicsStack(app, config.name, { config, ...options })
  const names = resourceNames(config)
  const captureRoleNames = [
    // the inspector reads only buckets of its own account (or ones whose policy admits it)
    ...FUNCTION_KEYS.filter((k) => k !== 'custody-recorder' && k !== 'inspector').map((k) => names.functions[k]),
    // the containment function acts in member accounts through the member role
    ...(config.containment.enabled ? [containmentRoute(config).functionName] : []),
  ]
  const scope = triggerScope(config)
  const members = config.memberAccounts.map((memberAccountId) => {
    const stack = new MemberAccountStack(app, `${config.name}-member-${memberAccountId}`, {
      memberAccountId,
      region: config.region,
      forensicsAccountId: config.forensicsAccountId,
      roleName: names.memberRole,
      externalId: config.memberRole.externalId,
      captureRoleNames,
      ...(config.containment.enabled ? { containment: { buckets: containmentBuckets(config) } } : {}),
      forwarding: {
        name: config.name,
        regions: config.regions,
        intakeBusArn: intakeEventBusArn(config),
        forwarderRoleName: names.eventForwarderRole,
        patterns: {
          ...triggerPatterns(scope.watchedBuckets, scope.sensitiveBuckets),
          ...(config.inspection.enabled ? { [INSPECTION_PATTERN_KEY]: inspectionUploadPattern(config.inspection.buckets) } : {}),
        },
        ...(config.inspection.enabled ? { inspectedBuckets: config.inspection.buckets } : {}),
      },
    })
    // The trust policy names the capture roles, and the forwarding rules target the intake
    // bus, whose policy admits this account: they must exist first.
    stack.addDependency(forensics)
    return stack
  })
  return { forensics, members }
}

/** Where the config comes from, in order: inline context, `FORENSICS_CONFIG`, context file, repo default. */
export interface ConfigSource {
  /** Parsed config object (cdktf context `forensicsConfig`). */
  inline?: unknown
  /** Path to a JSON file. */
  path?: string
}

/** Reads and validates the config from the first source given. */
export function resolveConfig(source: ConfigSource): ForensicsConfig {
  if (source.inline !== undefined) return parseConfig(source.inline)
  return loadConfigFile(source.path ?? join(repositoryRoot, 'forensics.config.json'))
}

/**
 * Creates the app (outdir and context from the cdktf CLI environment unless given), reads
 * the config from context `forensicsConfig`, `FORENSICS_CONFIG`, context `forensicsConfigFile`
 * or `forensics.config.json`, adds the stacks and synthesizes them. Bundles go to
 * `FORENSICS_BUILD_DIR` when set (default `.forensics/build/lambda`).
 */
export function synthesizeForensicsApp(options: { outdir?: string; env?: NodeJS.ProcessEnv; bundleOptions?: BundleOptions } = {}): { app: App; stacks: ForensicsStacks } {
  const env = options.env ?? process.env
  // Construct stack traces only help when debugging cdktf itself; CDKTF_STACK_TRACES=1 brings them back.
  const app = new App({ stackTraces: env.CDKTF_STACK_TRACES === '1', ...(options.outdir ? { outdir: options.outdir } : {}) })
  const inline: unknown = app.node.tryGetContext('forensicsConfig')
  const fileFromContext: unknown = app.node.tryGetContext('forensicsConfigFile')
  const path = env.FORENSICS_CONFIG ?? (typeof fileFromContext === 'string' ? fileFromContext : undefined)
  const config = resolveConfig({ ...(inline !== undefined ? { inline } : {}), ...(path ? { path } : {}) })
  const buildDir = env.FORENSICS_BUILD_DIR
  const bundleOptions = options.bundleOptions ?? (buildDir ? { outDir: buildDir } : undefined)
  const stacks = addForensicsStacks(app, config, bundleOptions ? { bundleOptions } : {})
  app.synth()
  return { app, stacks }
}
