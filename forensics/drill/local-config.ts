/**
 * The configuration `forensics drill` uses on the emulator when no `forensics.config.json`
 * (or `FORENSICS_CONFIG`) exists: a complete, valid config whose account is the emulator's
 * default account. Nothing in it reaches AWS.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfigFile, parseConfig, type ForensicsConfig } from '../config.js'
import type { ObjectLocation } from '../inspection/inspection-config.js'
import { inScope } from '../inspection/upload-event.js'

/** Raw local config (validated by {@link parseConfig} like any other). */
export const LOCAL_DRILL_CONFIG = {
  name: 'forensics',
  forensicsAccountId: '123456789012',
  region: 'us-east-1',
  evidence: { retentionDays: 1, mode: 'COMPLIANCE', breakGlassRoleArn: 'arn:aws:iam::123456789012:role/forensics-break-glass' },
  watchedBuckets: [],
  cloudTrailArchive: { bucket: 'forensics-local-cloudtrail', prefix: '' },
  drill: { enabled: true, canaryBucket: 'forensics-local-canary' },
  siem: { eventBusName: 'forensics-siem', topicName: 'forensics-siem' },
  capture: { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 3600 },
  memberRole: { externalId: 'forensics-local-drill' },
} as const

/**
 * The config for a local drill: `FORENSICS_CONFIG`, else `forensics.config.json` in `root`,
 * else {@link LOCAL_DRILL_CONFIG}. Says which in `source`.
 */
export function localDrillConfig(root: string, env: NodeJS.ProcessEnv): { config: ForensicsConfig; source: string } {
  const path = env.FORENSICS_CONFIG ?? join(root, 'forensics.config.json')
  if (env.FORENSICS_CONFIG || existsSync(path)) return { config: loadConfigFile(path), source: path }
  return { config: parseConfig(LOCAL_DRILL_CONFIG), source: 'built-in local config (no forensics.config.json)' }
}

/** Where the local drill puts the shipped drill rule (forensics/drill/drill-rules.yar) on the emulator. */
export const LOCAL_DRILL_RULES: ObjectLocation = { bucket: 'forensics-local-drill-rules', key: 'drill-rules.yar' }

/**
 * The config the local drill runs on the emulator: `config` with the drill's uploads to the
 * canary bucket (`drill/`) inspected with the shipped drill rule (at {@link LOCAL_DRILL_RULES},
 * no IOC lists; the emulator holds no other rule files). Severity threshold and case template
 * stay the config's. A config's own `inspection` is not changed for `cdktf synth`: this is
 * the local drill's view only. No canary bucket: `config` unchanged.
 */
export function withDrillInspection(config: ForensicsConfig): ForensicsConfig {
  const canary = config.drill.canaryBucket
  if (canary === undefined) return config
  const i = config.inspection
  const covered = i.enabled && inScope(i.buckets, canary, 'drill/')
  const buckets = covered
    ? i.buckets
    : i.buckets.some((b) => b.bucket === canary)
      ? i.buckets.map((b) => (b.bucket === canary ? { ...b, prefixes: [...b.prefixes, 'drill/'] } : b))
      : [...i.buckets, { bucket: canary, prefixes: ['drill/'], account: config.forensicsAccountId }]
  return { ...config, inspection: { ...i, enabled: true, buckets, rules: [LOCAL_DRILL_RULES], iocs: [] } }
}
