/**
 * The inspector's configuration travels to the function as one environment variable,
 * `FORENSICS_INSPECTION`: the validated `inspection` section as JSON, re-validated by the
 * same parser in the function. One truth: the stack writes what the config says.
 */
import { Checker } from '../config.js'
import { ValidationError } from '../errors.js'
import { parseInspectionSection, type InspectionConfig } from './inspection-config.js'

/** The variable's name. */
export const INSPECTION_ENV = 'FORENSICS_INSPECTION'

/** The environment entry the stack sets. */
export function inspectionEnvironment(config: InspectionConfig): Record<string, string> {
  return { [INSPECTION_ENV]: JSON.stringify({ ...config, rules: config.rules.map((l) => `s3://${l.bucket}/${l.key}`), iocs: config.iocs.map((l) => `s3://${l.bucket}/${l.key}`) }) }
}

/** Reads and validates `FORENSICS_INSPECTION`; a missing or bad value names the variable. */
export function inspectionFromEnv(env: NodeJS.ProcessEnv): InspectionConfig {
  const raw = env[INSPECTION_ENV]
  if (!raw) throw new ValidationError(`${INSPECTION_ENV} is not set: the inspector is deployed by the forensics stack with inspection.enabled`, { field: INSPECTION_ENV })
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch (cause) {
    throw new ValidationError(`${INSPECTION_ENV} is not JSON: ${(cause as Error).message}`, { cause, field: INSPECTION_ENV })
  }
  const c = new Checker({ inspection: parsed })
  const config = parseInspectionSection(c)
  if (c.issues.length > 0) throw new ValidationError(`${INSPECTION_ENV} is invalid: ${c.issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`, { field: c.issues[0].field })
  return config
}
