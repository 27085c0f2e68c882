/**
 * IAM policy documents as plain typed data. Policies are rendered with `JSON.stringify`:
 * cdktf tokens inside the strings (resource ARNs) resolve to Terraform interpolations, and
 * tests can parse the synthesized policy back into statements.
 */

/** One IAM policy statement. */
export interface PolicyStatement {
  Sid?: string
  Effect: 'Allow' | 'Deny'
  Principal?: '*' | Record<string, string | string[]>
  Action: string | string[]
  Resource?: string | string[]
  Condition?: Record<string, Record<string, string | string[] | boolean>>
}

/** Renders statements as a policy document string. */
export function policyDocument(statements: PolicyStatement[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements })
}

/** Trust policy letting an AWS service assume a role, pinned to our account (confused-deputy guard). */
export function serviceTrustPolicy(service: string, accountId: string): string {
  return policyDocument([
    {
      Effect: 'Allow',
      Principal: { Service: service },
      Action: 'sts:AssumeRole',
      Condition: { StringEquals: { 'aws:SourceAccount': accountId } },
    },
  ])
}
