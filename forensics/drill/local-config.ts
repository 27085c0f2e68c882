/**
 * The configuration `forensics drill` uses on the emulator when no `forensics.config.json`
 * (or `FORENSICS_CONFIG`) exists: a complete, valid config whose account is the emulator's
 * default account. Nothing in it reaches AWS.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfigFile, parseConfig, type ForensicsConfig } from '../config.js'

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
