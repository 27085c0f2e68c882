/**
 * Terraform version constraints (`>= 5.100.0, < 7.0.0`, `~> 6.0`, `= 6.25.0`, `!= 5.1`):
 * enough to tell, before `terraform init`, whether a provider a plugin mirror offers is one
 * the synthesized plan admits, and to test the range the stacks declare.
 */
import { ValidationError } from '../errors.js'

type Version = [number, number, number]

function parseVersion(text: string, what: string): { v: Version; parts: number } {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(text.trim())
  if (!m) throw new ValidationError(`${what} ${JSON.stringify(text)} is not a version such as 5.100.0`, { field: 'version' })
  const parts = m.slice(1).filter((x) => x !== undefined).length
  return { v: [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)], parts }
}

function compare(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return 0
}

/** True when `version` satisfies every comma-separated clause of `constraint`. */
export function satisfiesConstraint(version: string, constraint: string): boolean {
  const v = parseVersion(version, 'version').v
  return constraint.split(',').every((clause) => {
    const m = /^\s*(>=|<=|!=|~>|>|<|=)?\s*(\S+)\s*$/.exec(clause)
    if (!m) throw new ValidationError(`version constraint ${JSON.stringify(constraint)} has an unreadable clause ${JSON.stringify(clause)}`, { field: 'version' })
    const op = m[1] ?? '='
    const { v: c, parts } = parseVersion(m[2], `constraint ${JSON.stringify(constraint)}:`)
    const d = compare(v, c)
    switch (op) {
      case '=': return d === 0
      case '!=': return d !== 0
      case '>': return d > 0
      case '>=': return d >= 0
      case '<': return d < 0
      case '<=': return d <= 0
      default: {
        // `~> 6.0` admits 6.x (>= 6.0); `~> 6.25.0` admits 6.25.x: only the rightmost part may grow
        const upper: Version = parts <= 2 ? [c[0] + 1, 0, 0] : [c[0], c[1] + 1, 0]
        return d >= 0 && compare(v, upper) < 0
      }
    }
  })
}
