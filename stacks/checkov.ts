/**
 * Checkov skip annotations written next to the resource they apply to, in the synthesized
 * Terraform JSON: `"//": { "checkov": { "skip": [{ "id": "CKV_…", "comment": "why" }] } }`
 * (the shape checkov reads from CloudFormation metadata). Checkov 3.2 does not read skips in
 * Terraform JSON itself, so `test/checkov.test.ts` applies them: a failed check counts as
 * skipped only when its resource carries a skip for that id with a reason.
 */
import type { TerraformResourceLike } from './types.js'

/** A reviewed exception to a checkov check. */
export interface CheckovSkip {
  id: string
  /** Why the check does not apply; shown to reviewers, so a full sentence. */
  comment: string
}

const skips = new WeakMap<TerraformResourceLike, CheckovSkip[]>()

/** Adds checkov skips to a resource's `//` metadata. */
export function skipCheckov(resource: TerraformResourceLike, ...add: CheckovSkip[]): void {
  const list = [...(skips.get(resource) ?? []), ...add]
  skips.set(resource, list)
  resource.addOverride('//.checkov.skip', list)
}
