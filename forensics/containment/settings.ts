/**
 * What containment derives from the config: who is exempt from a quarantine and never
 * revoked, where alerts go, and which buckets are the toolkit's own (never touched).
 */
import type { ContainmentAction, ContainmentConfig, ForensicsConfig, SensitiveBucketConfig } from '../config.js'
import { ValidationError } from '../errors.js'
import { resourceNames } from '../routing.js'

/** The containment settings of one deployment. */
export interface ContainmentSettings {
  /** principals a quarantine policy still lets in (ARN patterns): break-glass, forensics roles, member role, investigators */
  exemptPrincipals: string[]
  /** principals never revoked: {@link exemptPrincipals} plus `containment.neverContain` */
  neverContain: string[]
  alertTopicArn: string
  actions: ContainmentAction[]
  minSeverity: ContainmentConfig['minSeverity']
  dryRun: boolean
  sensitiveBuckets: SensitiveBucketConfig[]
  /** the evidence and access-log buckets: containment refuses them */
  ownBuckets: string[]
}

/** Name of the deny-all inline policy containment attaches to a user or role. */
export const DENY_POLICY_NAME = 'forensics-containment-deny-all'

/** Name of the topic the stack creates when `containment.alertTopicArn` is not set. */
export const containmentAlertTopicName = (config: ForensicsConfig): string => `${config.name}-containment-alerts`

/** Derives {@link ContainmentSettings} from the validated config. */
export function containmentSettings(config: ForensicsConfig): ContainmentSettings {
  const names = resourceNames(config)
  const partition = /^arn:(aws[a-z-]*):/.exec(config.evidence.breakGlassRoleArn)?.[1] ?? 'aws'
  const exemptPrincipals = [
    config.evidence.breakGlassRoleArn,
    // every function role of the toolkit is named after its function: `<name>-<key>`
    `arn:${partition}:iam::${config.forensicsAccountId}:role/${config.name}-*`,
    `arn:${partition}:iam::*:role/${config.memberRole.roleName}`,
    ...config.evidence.investigatorRoleArns,
  ]
  const c = config.containment
  return {
    exemptPrincipals,
    neverContain: [...exemptPrincipals, ...c.neverContain],
    alertTopicArn: c.alertTopicArn ?? `arn:${partition}:sns:${config.region}:${config.forensicsAccountId}:${containmentAlertTopicName(config)}`,
    actions: [...c.actions],
    minSeverity: c.minSeverity,
    dryRun: c.dryRun,
    sensitiveBuckets: c.sensitiveBuckets.map((b) => ({ bucket: b.bucket, allowedPrincipals: [...b.allowedPrincipals] })),
    ownBuckets: [names.evidenceBucket, names.accessLogBucket],
  }
}

/** The environment variable carrying {@link ContainmentSettings} (JSON) to the containment function. */
export const CONTAINMENT_SETTINGS_ENV = 'FORENSICS_CONTAINMENT_SETTINGS'

/** Reads {@link ContainmentSettings} from the environment the stack (or the local runtime) sets. */
export function containmentSettingsFromEnv(env: NodeJS.ProcessEnv): ContainmentSettings {
  const raw = env[CONTAINMENT_SETTINGS_ENV]
  const fail = (why: string): never => {
    throw new ValidationError(`${CONTAINMENT_SETTINGS_ENV} ${why}: the forensics stack sets it from the config's containment section`, { field: CONTAINMENT_SETTINGS_ENV })
  }
  if (!raw) return fail('is not set')
  let s: Partial<ContainmentSettings>
  try {
    s = JSON.parse(raw as string) as Partial<ContainmentSettings>
  } catch {
    return fail('is not JSON')
  }
  const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string')
  if (!strings(s.exemptPrincipals) || !strings(s.neverContain) || !strings(s.actions) || !strings(s.ownBuckets) || typeof s.alertTopicArn !== 'string' || typeof s.dryRun !== 'boolean' || typeof s.minSeverity !== 'string' || !Array.isArray(s.sensitiveBuckets)) {
    return fail('lacks exemptPrincipals, neverContain, actions, ownBuckets, alertTopicArn, dryRun, minSeverity or sensitiveBuckets')
  }
  return s as ContainmentSettings
}
