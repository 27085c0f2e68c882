/** Small structural types shared by the constructs (no cdktf import needed). */

/** Anything that accepts raw Terraform overrides (every cdktf resource does). */
export interface TerraformResourceLike {
  addOverride(path: string, value: unknown): void
}
