/**
 * One Lambda function of the toolkit (a collector, the custody recorder or the drill
 * runner): Node.js 22 on arm64, its esbuild bundle as a Terraform asset, its own role,
 * an encrypted log group with retention, X-Ray tracing, reserved concurrency, and an
 * async invoke configuration built from its row of the routing table.
 */
import {
  AssetType, Construct, CloudwatchLogGroup, IamRole, IamRolePolicy, IamRolePolicyAttachment, LambdaFunction,
  LambdaFunctionEventInvokeConfig, TerraformAsset,
} from './cdktf.js'
import { skipCheckov } from './checkov.js'
import { policyDocument, serviceTrustPolicy, type PolicyStatement } from './policy.js'
import type { HandlerBundle } from './bundle.js'
import type { AsyncInvokeRoute } from '../forensics/routing.js'

/** The runtime every function uses. */
export const LAMBDA_RUNTIME = 'nodejs22.x'
/** The architecture every function uses. */
export const LAMBDA_ARCHITECTURE = 'arm64'

/** Options for {@link CaptureFunction}. */
export interface CaptureFunctionOptions {
  functionName: string
  description: string
  bundle: HandlerBundle
  accountId: string
  region: string
  /** Key for the log group and environment variables. */
  kmsKeyArn: string
  logRetentionDays: number
  reservedConcurrency: number
  timeoutSeconds: number
  memoryMb: number
  environment: Record<string, string>
  codeSigningConfigArn?: string
}

/** A function with its role, log group and code asset. */
export class CaptureFunction extends Construct {
  readonly role: IamRole
  readonly logGroup: CloudwatchLogGroup
  readonly function: LambdaFunction
  private policy?: IamRolePolicy
  private invokeConfig?: LambdaFunctionEventInvokeConfig

  constructor(scope: Construct, id: string, o: CaptureFunctionOptions) {
    super(scope, id)
    this.role = new IamRole(this, 'role', {
      name: o.functionName,
      description: `Execution role of ${o.functionName}: only what it reads, and writes under its own evidence prefix`,
      assumeRolePolicy: serviceTrustPolicy('lambda.amazonaws.com', o.accountId),
    })
    // X-Ray's write actions cannot be scoped to a resource; the AWS managed policy is the
    // reviewed way to grant exactly them.
    new IamRolePolicyAttachment(this, 'xray', { role: this.role.name, policyArn: 'arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess' })
    this.logGroup = new CloudwatchLogGroup(this, 'logs', {
      name: `/aws/lambda/${o.functionName}`,
      retentionInDays: o.logRetentionDays,
      kmsKeyId: o.kmsKeyArn,
    })
    // The ZIP is written by the bundler (deterministic, in-process); cdktf only copies it.
    const asset = new TerraformAsset(this, 'code', { path: o.bundle.zipPath, type: AssetType.FILE })
    this.function = new LambdaFunction(this, 'function', {
      functionName: o.functionName,
      description: o.description,
      role: this.role.arn,
      runtime: LAMBDA_RUNTIME,
      architectures: [LAMBDA_ARCHITECTURE],
      handler: 'index.handler',
      filename: asset.path,
      sourceCodeHash: o.bundle.codeSha256,
      memorySize: o.memoryMb,
      timeout: o.timeoutSeconds,
      reservedConcurrentExecutions: o.reservedConcurrency,
      kmsKeyArn: o.kmsKeyArn,
      tracingConfig: { mode: 'Active' },
      loggingConfig: { logFormat: 'JSON', logGroup: this.logGroup.name },
      environment: { variables: o.environment },
      ...(o.codeSigningConfigArn ? { codeSigningConfigArn: o.codeSigningConfigArn } : {}),
      dependsOn: [this.logGroup],
    })
    skipCheckov(
      this.function,
      { id: 'CKV_AWS_117', comment: 'The function only calls AWS APIs (S3, KMS, SQS, SNS, EventBridge, STS, CloudTrail); a VPC would add NAT or eight interface endpoints without reducing what the role can reach.' },
      { id: 'CKV_AWS_116', comment: 'Failed async invocations go to the OnFailure destination (the encrypted dead-letter queue) with the full destination record; a function-level DLQ as well would deliver every failure twice.' },
    )
    if (!o.codeSigningConfigArn) {
      skipCheckov(this.function, {
        id: 'CKV_AWS_272',
        comment: 'Code signing is opt-in (codeSigning in forensics.config.json); without it the bundle is built from this repository at synth time and pinned by its SHA-256 in source_code_hash.',
      })
    }
  }

  /** The function's ARN. */
  get arn(): string {
    return this.function.arn
  }

  /** Writes the role's inline policy (once): logs of its own log group plus `statements`. */
  attachPolicy(statements: PolicyStatement[]): IamRolePolicy {
    if (this.policy) throw new Error(`${this.node.path}: policy already attached`)
    this.policy = new IamRolePolicy(this, 'policy', {
      name: 'least-privilege',
      role: this.role.id,
      policy: policyDocument([
        { Sid: 'OwnLogGroup', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: `${this.logGroup.arn}:*` },
        ...statements,
      ]),
    })
    return this.policy
  }

  /**
   * Configures asynchronous invocation from the function's routing-table row: retries,
   * maximum event age, OnSuccess and OnFailure destinations (ARNs resolved by the caller).
   */
  routeAsync(route: Pick<AsyncInvokeRoute, 'maximumRetryAttempts' | 'maximumEventAgeInSeconds'>, destinations: { onSuccessArn: string; onFailureArn: string }): LambdaFunctionEventInvokeConfig {
    if (this.invokeConfig) throw new Error(`${this.node.path}: async routing already configured`)
    this.invokeConfig = new LambdaFunctionEventInvokeConfig(this, 'async', {
      functionName: this.function.functionName,
      maximumRetryAttempts: route.maximumRetryAttempts,
      maximumEventAgeInSeconds: route.maximumEventAgeInSeconds,
      destinationConfig: {
        onSuccess: { destination: destinations.onSuccessArn },
        onFailure: { destination: destinations.onFailureArn },
      },
      // Destinations are used with the function's role: grant before routing.
      dependsOn: this.policy ? [this.policy] : [],
    })
    return this.invokeConfig
  }
}
