/**
 * The policies a deployment enforces, taken from the synthesized plans (what `cdktf deploy`
 * applies, never what the emulator holds: the emulator gets some bucket-policy statements
 * replaced) with their Terraform references resolved from the applied state: each role's
 * inline policies, trust policies, bucket, key, queue, topic and event-bus policies, plus the
 * facts the simulation needs (which key encrypts which bucket, queue and topic; aliases;
 * which account owns a bucket).
 */
import { ValidationError } from '../errors.js'

/** An IAM policy document. */
export interface PolicyDocument {
  Version?: string
  Statement: PolicyStatementDoc[]
}

/** One statement of a policy document. */
export interface PolicyStatementDoc {
  Sid?: string
  Effect: 'Allow' | 'Deny'
  Principal?: unknown
  Action?: string | string[]
  Resource?: string | string[]
  Condition?: Record<string, Record<string, unknown>>
}

/** A named identity policy of a role. */
export interface RolePolicy {
  name: string
  document: PolicyDocument
}

/** Everything the simulation evaluates, by ARN. */
export interface DeploymentPolicies {
  /** inline policies by role ARN (`aws_iam_role_policy`) */
  rolePolicies: Map<string, RolePolicy[]>
  /** AWS-managed policy ARNs attached by role ARN (listed; their documents are AWS's) */
  managedAttachments: Map<string, string[]>
  /** trust policies by role ARN */
  trustPolicies: Map<string, PolicyDocument>
  /** resource policies by resource ARN: buckets, keys, queues, topics, event buses */
  resourcePolicies: Map<string, PolicyDocument>
  /** default-encryption key ARN by bucket name */
  bucketKeys: Map<string, string>
  /** KMS key ARN by queue ARN and by topic ARN */
  messageKeys: Map<string, string>
  /** key ARN by alias name (`alias/…`) */
  aliases: Map<string, string>
  /** owning account by bucket name */
  bucketAccounts: Map<string, string>
  /** role ARN by Lambda function name */
  functionRoles: Map<string, string>
}

/** A stack's synthesized plan and its applied state (`terraform show -json`). */
export interface AppliedStack {
  accountId: string
  region: string
  plan: { resource?: Record<string, Record<string, Record<string, unknown>>> }
  state: { values?: { root_module?: { resources?: { address: string; type: string; name: string; values: Record<string, unknown> }[] } } }
}

const REF = /\$\{(aws_[a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z_]+)\}/g

/** An empty set, to merge stacks into. */
export function emptyDeploymentPolicies(): DeploymentPolicies {
  return {
    rolePolicies: new Map(), managedAttachments: new Map(), trustPolicies: new Map(), resourcePolicies: new Map(),
    bucketKeys: new Map(), messageKeys: new Map(), aliases: new Map(), bucketAccounts: new Map(), functionRoles: new Map(),
  }
}

/** Reads one applied stack into `into` (default: a new set) and returns it. */
export function deploymentPolicies(stacks: readonly AppliedStack[], into = emptyDeploymentPolicies()): DeploymentPolicies {
  for (const stack of stacks) addStack(into, stack)
  return into
}

function addStack(p: DeploymentPolicies, stack: AppliedStack): void {
  const applied = new Map<string, Record<string, unknown>>()
  for (const r of stack.state.values?.root_module?.resources ?? []) applied.set(`${r.type}.${r.name}`, r.values)
  const resolve = (text: string, where: string): string =>
    text.replace(REF, (_m, type: string, name: string, attr: string) => {
      const v = applied.get(`${type}.${name}`)?.[attr]
      if (typeof v !== 'string') throw new ValidationError(`${where} refers to ${type}.${name}.${attr}, which the applied state does not have: apply the stack first`, { field: where })
      return v
    })
  const value = (v: unknown, where: string): string => resolve(String(v), where)
  const doc = (v: unknown, where: string): PolicyDocument => JSON.parse(value(v, where)) as PolicyDocument
  const each = (type: string): [string, Record<string, unknown>][] => Object.entries(stack.plan.resource?.[type] ?? {})
  const arnOf = (type: string, id: string): string => value(`\${${type}.${id}.arn}`, `${type}.${id}`)

  const roleArnByRef = new Map<string, string>()
  for (const [id, r] of each('aws_iam_role')) {
    const arn = arnOf('aws_iam_role', id)
    for (const attr of ['id', 'name', 'arn']) roleArnByRef.set(`\${aws_iam_role.${id}.${attr}}`, arn)
    p.trustPolicies.set(arn, doc(r.assume_role_policy, `aws_iam_role.${id}`))
  }
  const roleOf = (v: unknown, where: string): string => {
    const arn = roleArnByRef.get(String(v))
    if (!arn) throw new ValidationError(`${where} names a role that is not in its stack: ${String(v)}`, { field: where })
    return arn
  }
  for (const [id, r] of each('aws_iam_role_policy')) {
    const role = roleOf(r.role, `aws_iam_role_policy.${id}`)
    p.rolePolicies.set(role, [...(p.rolePolicies.get(role) ?? []), { name: String(r.name), document: doc(r.policy, `aws_iam_role_policy.${id}`) }])
  }
  for (const [id, r] of each('aws_iam_role_policy_attachment')) {
    const role = roleOf(r.role, `aws_iam_role_policy_attachment.${id}`)
    p.managedAttachments.set(role, [...(p.managedAttachments.get(role) ?? []), String(r.policy_arn)])
  }
  for (const [id, r] of each('aws_lambda_function')) p.functionRoles.set(String(r.function_name), roleOf(r.role, `aws_lambda_function.${id}`))

  const bucketNames = new Map<string, string>()
  for (const [id, r] of each('aws_s3_bucket')) {
    bucketNames.set(`\${aws_s3_bucket.${id}.id}`, String(r.bucket))
    p.bucketAccounts.set(String(r.bucket), stack.accountId)
  }
  const bucketOf = (v: unknown): string => bucketNames.get(String(v)) ?? value(v, 'bucket')
  for (const [id, r] of each('aws_s3_bucket_policy')) p.resourcePolicies.set(`arn:aws:s3:::${bucketOf(r.bucket)}`, doc(r.policy, `aws_s3_bucket_policy.${id}`))
  for (const [id, r] of each('aws_s3_bucket_server_side_encryption_configuration')) {
    const rule = (r.rule as { apply_server_side_encryption_by_default?: { kms_master_key_id?: string } }[])[0]?.apply_server_side_encryption_by_default
    if (rule?.kms_master_key_id) p.bucketKeys.set(bucketOf(r.bucket), value(rule.kms_master_key_id, `aws_s3_bucket_server_side_encryption_configuration.${id}`))
  }
  for (const [id, r] of each('aws_kms_key')) if (r.policy) p.resourcePolicies.set(arnOf('aws_kms_key', id), doc(r.policy, `aws_kms_key.${id}`))
  for (const [, r] of each('aws_kms_alias')) {
    const key = /^\$\{aws_kms_key\.([^.]+)\.key_id\}$/.exec(String(r.target_key_id))
    if (key) p.aliases.set(String(r.name), arnOf('aws_kms_key', key[1]))
  }
  for (const [id, r] of each('aws_sqs_queue')) if (r.kms_master_key_id) p.messageKeys.set(arnOf('aws_sqs_queue', id), value(r.kms_master_key_id, `aws_sqs_queue.${id}`))
  for (const [id, r] of each('aws_sns_topic')) if (r.kms_master_key_id) p.messageKeys.set(arnOf('aws_sns_topic', id), value(r.kms_master_key_id, `aws_sns_topic.${id}`))
  for (const [id, r] of each('aws_sqs_queue_policy')) {
    const url = value(r.queue_url, `aws_sqs_queue_policy.${id}`)
    const [account, name] = new URL(url).pathname.split('/').filter(Boolean).slice(-2)
    p.resourcePolicies.set(`arn:aws:sqs:${stack.region}:${account}:${name}`, doc(r.policy, `aws_sqs_queue_policy.${id}`))
  }
  for (const [id, r] of each('aws_sns_topic_policy')) p.resourcePolicies.set(value(r.arn, `aws_sns_topic_policy.${id}`), doc(r.policy, `aws_sns_topic_policy.${id}`))
  for (const [id, r] of each('aws_cloudwatch_event_bus_policy')) {
    const bus = value(r.event_bus_name, `aws_cloudwatch_event_bus_policy.${id}`)
    p.resourcePolicies.set(`arn:aws:events:${stack.region}:${stack.accountId}:event-bus/${bus}`, doc(r.policy, `aws_cloudwatch_event_bus_policy.${id}`))
  }
}
