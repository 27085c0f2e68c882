/**
 * Permissions, simulated: every recorded AWS call of every function is evaluated, with an
 * IAM policy simulator, against the policies the deployment synthesizes (the function's role
 * policies, or the assumed role's, plus the resource's own policy: bucket, key, queue,
 * topic, bus, trust policy). The drill check `permissions-sufficient` passes when every
 * call is allowed; the report also lists every granted action no recorded call used, each
 * with its justification from {@link GRANT_JUSTIFICATIONS} or flagged for removal.
 */
import type { RecordedCall } from '../aws/call-recorder.js'
import type { CheckResult } from '../drill/drill-report.js'
import type { DeploymentPolicies, PolicyDocument } from './deployment-policies.js'
import { iamRequestsFor, UnmappedCallError, type IamRequest } from './iam-requests.js'

/** One evaluation. */
export interface SimulationInput {
  principal: string
  request: IamRequest
  identityPolicies: { name: string; document: PolicyDocument }[]
  resourcePolicy?: PolicyDocument
}

/** The verdict of one evaluation. */
export type Decision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied'

/** Port: an IAM policy simulator. */
export interface PolicySimulator {
  readonly name: string
  evaluate(input: SimulationInput): Promise<{ decision: Decision; detail?: string }>
}

/** A request that was not allowed. */
export interface PermissionDenial {
  function?: string
  role: string
  call: string
  action: string
  resource: string
  decision: Decision | 'unmapped'
  /** the call a KMS request serves */
  via?: string
  detail?: string
}

/** A granted action that no recorded call used. */
export interface UnusedGrant {
  role: string
  policy: string
  sid: string
  action: string
  /** why it stays although no path here used it; absent: remove it */
  justification?: string
}

/** Everything the simulation found. */
export interface PermissionReport {
  simulator: string
  calls: number
  requests: number
  allowed: number
  denials: PermissionDenial[]
  /** roles with at least one recorded call; only their grants are judged */
  exercisedRoles: string[]
  unused: UnusedGrant[]
}

/**
 * Why a grant stays although the recorded paths did not use it (the one list), by
 * `<Sid> <action>`: Lambda itself uses some grants on the function's behalf, others serve
 * paths a drill does not take.
 */
export const GRANT_JUSTIFICATIONS: Record<string, string> = {
  'OwnLogGroup logs:CreateLogStream': 'Lambda writes the function\'s logs with its role, not the function code',
  'OwnLogGroup logs:PutLogEvents': 'Lambda writes the function\'s logs with its role, not the function code',
  'OnSuccessDestination lambda:InvokeFunction': 'Lambda delivers the OnSuccess destination record with the function\'s role',
  'OnSuccessDestination events:PutEvents': 'Lambda delivers the OnSuccess destination record with the function\'s role',
  'OnFailureDestination sqs:SendMessage': 'Lambda delivers the OnFailure destination record with the function\'s role',
  'PlatformKeyForQueuesAndTopics kms:GenerateDataKey': 'the destination queue and topics are encrypted with the platform key (Lambda\'s deliveries)',
  'PlatformKeyForQueuesAndTopics kms:Decrypt': 'the destination queue and topics are encrypted with the platform key (Lambda\'s deliveries)',
  'EvidenceBucketReads s3:ListBucketVersions': 'bundles and verification list the versions of a capture',
  'EvidenceRead s3:GetObjectVersion': 'a redelivered event reads the committed manifest at its version',
  'EvidenceRead s3:GetObjectRetention': 'verification reads retention where HeadObject does not report it',
  'EvidenceRead s3:GetObjectAttributes': 'verification reads checksums where HeadObject does not report them',
  'EvidenceWriteOwnPrefix s3:PutObjectRetention': 'retention is set explicitly when a multipart upload comes back without it',
  'EvidenceWriteOwnPrefix s3:AbortMultipartUpload': 'a failed multipart upload of a large artifact is aborted',
  'ReadAccountPublicAccessBlock s3:GetAccountPublicAccessBlock': 'read in the function\'s own account for buckets there (member buckets are read through the member role)',
  'AssumeMemberReadOnlyRole sts:AssumeRole': 'reads of member-account buckets',
}

/** Evaluates recorded calls; `roleOf` names the role a function's calls run as. */
export async function simulatePermissions(
  calls: readonly RecordedCall[],
  policies: DeploymentPolicies,
  simulator: PolicySimulator,
  o: { region: string },
): Promise<PermissionReport> {
  const denials: PermissionDenial[] = []
  const used: { role: string; action: string; resource: string }[] = []
  let requests = 0
  let allowed = 0
  const exercised = new Set<string>()
  for (const call of calls) {
    const fnRole = call.function ? policies.functionRoles.get(call.function) : undefined
    const role = call.principal ?? fnRole
    const id = `${call.client} ${call.command}`
    if (!role) {
      denials.push({ ...(call.function ? { function: call.function } : {}), role: '(unknown)', call: id, action: '?', resource: '?', decision: 'unmapped', detail: `no role known for function ${call.function ?? '(none)'}` })
      continue
    }
    exercised.add(role)
    let reqs: IamRequest[]
    try {
      reqs = iamRequestsFor(call, { roleArn: role, region: o.region }, policies)
    } catch (e) {
      if (!(e instanceof UnmappedCallError)) throw e
      denials.push({ ...(call.function ? { function: call.function } : {}), role, call: id, action: '?', resource: '?', decision: 'unmapped', detail: e.message })
      continue
    }
    for (const request of reqs) {
      requests++
      const identityPolicies = (policies.rolePolicies.get(role) ?? []).map((p) => ({ name: p.name, document: p.document }))
      const resourcePolicy = resourcePolicyFor(request, policies)
      const verdict = await simulator.evaluate({ principal: role, request, identityPolicies, ...(resourcePolicy ? { resourcePolicy } : {}) })
      if (verdict.decision === 'Allowed') {
        allowed++
        used.push({ role, action: request.action, resource: request.resource })
      } else {
        denials.push({
          ...(call.function ? { function: call.function } : {}),
          role, call: id, action: request.action, resource: request.resource, decision: verdict.decision,
          ...(request.via ? { via: request.via } : {}),
          ...(verdict.detail ? { detail: verdict.detail } : {}),
        })
      }
    }
  }
  return { simulator: simulator.name, calls: calls.length, requests, allowed, denials, exercisedRoles: [...exercised].sort(), unused: unusedGrants(policies, [...exercised], used) }
}

function resourcePolicyFor(r: IamRequest, p: DeploymentPolicies): PolicyDocument | undefined {
  if (r.action === 'sts:AssumeRole') return p.trustPolicies.get(r.resource)
  if (r.resource.startsWith('arn:aws:s3:::')) return p.resourcePolicies.get(`arn:aws:s3:::${r.resource.slice(13).split('/')[0]}`)
  return p.resourcePolicies.get(r.resource)
}

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v])
const wildcard = (pattern: string, value: string): boolean => new RegExp(`^${pattern.split('*').map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(value)

function unusedGrants(p: DeploymentPolicies, roles: string[], used: { role: string; action: string; resource: string }[]): UnusedGrant[] {
  const out: UnusedGrant[] = []
  for (const role of roles) {
    for (const policy of p.rolePolicies.get(role) ?? []) {
      for (const s of policy.document.Statement) {
        if (s.Effect !== 'Allow') continue
        for (const action of list(s.Action)) {
          const hit = used.some((u) => u.role === role && wildcard(action, u.action) && list(s.Resource).some((r) => wildcard(r, u.resource)))
          if (hit) continue
          const justification = GRANT_JUSTIFICATIONS[`${s.Sid ?? ''} ${action}`]
          out.push({ role, policy: policy.name, sid: s.Sid ?? '', action, ...(justification ? { justification } : {}) })
        }
      }
    }
  }
  return out
}

/** The drill check: every recorded call allowed, naming the call and the role of each that was not. */
export function permissionsSufficient(report: PermissionReport): CheckResult {
  const evidence = { simulator: report.simulator, calls: report.calls, requests: report.requests, allowed: report.allowed, denials: report.denials }
  if (report.calls === 0) return { name: 'permissions-sufficient', verdict: 'fail', summary: 'no AWS call was recorded: nothing proves the roles suffice', evidence }
  if (report.denials.length === 0) {
    return { name: 'permissions-sufficient', verdict: 'pass', summary: `${report.requests} request(s) of ${report.calls} recorded call(s) allowed by the synthesized policies (${report.simulator})`, evidence }
  }
  const named = report.denials.slice(0, 5).map((d) => `${d.call} by ${d.role}${d.function ? ` (${d.function})` : ''}: ${d.action} on ${d.resource}${d.via ? ` for ${d.via}` : ''} ${d.decision}`)
  return { name: 'permissions-sufficient', verdict: 'fail', summary: `${report.denials.length} request(s) not allowed: ${named.join('; ')}`, evidence }
}

/** The report's unused grants as lines (justified ones say why; the rest should be removed). */
export function renderUnusedGrants(report: PermissionReport): string[] {
  return report.unused.map((u) => `${u.role} ${u.sid} ${u.action}: ${u.justification ?? 'UNUSED, remove it or justify it in GRANT_JUSTIFICATIONS'}`)
}
