/**
 * The one seam between the stacks and the CDK for Terraform libraries. Every other file in
 * `stacks/` imports `cdktf`, `constructs` and `@cdktf/provider-aws` only through here, so a
 * move to CDK Terrain (`cdktn`, the maintained fork of the archived cdktf 0.21) is a change
 * of module names in this file alone.
 *
 * Provider classes come from deep imports: the provider's root index costs seconds and
 * hundreds of MB per process. They are loaded with `require`, not `import`: these are
 * CommonJS packages, and importing them from ESM makes Node scan each module (and every
 * module it re-exports) for named exports first, which costs about as much as loading them.
 */
import { createRequire } from 'node:module'

const load = createRequire(import.meta.url)

// These libraries ship inline source maps; parsing them (the test runner turns source maps on) costs
// a third of a second and only helps when debugging cdktf itself.
const sourceMaps = process.sourceMapsEnabled
process.setSourceMapsEnabled(false)
const cdktf = load('cdktf') as typeof import('cdktf')
const constructs = load('constructs') as typeof import('constructs')

export const App = cdktf.App
export type App = import('cdktf').App
export const AssetType = cdktf.AssetType
export type AssetType = import('cdktf').AssetType
export const TerraformAsset = cdktf.TerraformAsset
export type TerraformAsset = import('cdktf').TerraformAsset
export const TerraformOutput = cdktf.TerraformOutput
export type TerraformOutput = import('cdktf').TerraformOutput
export const TerraformStack = cdktf.TerraformStack
export type TerraformStack = import('cdktf').TerraformStack
export const Testing = cdktf.Testing
export type Testing = import('cdktf').Testing
export type AppConfig = import('cdktf').AppConfig
export const Token = cdktf.Token

export const Construct = constructs.Construct
export type Construct = import('constructs').Construct

const GeneratedAwsProvider = (load('@cdktf/provider-aws/lib/provider/index.js') as typeof import('@cdktf/provider-aws/lib/provider/index.js')).AwsProvider

/**
 * The AWS provider versions a stack admits. The generated provider bindings pin the exact
 * release they were generated from (`@cdktf/provider-aws` 21.x: 6.25.0); our resources
 * only use arguments that exist from 5.100 through the current 6.x, so the constraint is a
 * range: operators keep the provider they have (or a plugin mirror offers), and the
 * emulator rehearsal runs with 5.100.
 */
export const AWS_PROVIDER_VERSIONS = '>= 5.100.0, < 7.0.0'

/** The AWS provider, with {@link AWS_PROVIDER_VERSIONS} as its version constraint. */
export class AwsProvider extends GeneratedAwsProvider {
  constructor(scope: import('constructs').Construct, id: string, config: import('@cdktf/provider-aws/lib/provider/index.js').AwsProviderConfig = {}) {
    super(scope, id, config)
    // The generated class writes its exact version into required_providers; a stack
    // override is cdktf's documented way to replace a synthesized value.
    cdktf.TerraformStack.of(this).addOverride(`terraform.required_providers.${this.terraformResourceType}.version`, AWS_PROVIDER_VERSIONS)
  }
}
export const CloudwatchEventBus = (load('@cdktf/provider-aws/lib/cloudwatch-event-bus/index.js') as typeof import('@cdktf/provider-aws/lib/cloudwatch-event-bus/index.js')).CloudwatchEventBus
export type CloudwatchEventBus = import('@cdktf/provider-aws/lib/cloudwatch-event-bus/index.js').CloudwatchEventBus
export const CloudwatchEventBusPolicy = (load('@cdktf/provider-aws/lib/cloudwatch-event-bus-policy/index.js') as typeof import('@cdktf/provider-aws/lib/cloudwatch-event-bus-policy/index.js')).CloudwatchEventBusPolicy
export type CloudwatchEventBusPolicy = import('@cdktf/provider-aws/lib/cloudwatch-event-bus-policy/index.js').CloudwatchEventBusPolicy
export const CloudwatchEventRule = (load('@cdktf/provider-aws/lib/cloudwatch-event-rule/index.js') as typeof import('@cdktf/provider-aws/lib/cloudwatch-event-rule/index.js')).CloudwatchEventRule
export type CloudwatchEventRule = import('@cdktf/provider-aws/lib/cloudwatch-event-rule/index.js').CloudwatchEventRule
export const CloudwatchEventTarget = (load('@cdktf/provider-aws/lib/cloudwatch-event-target/index.js') as typeof import('@cdktf/provider-aws/lib/cloudwatch-event-target/index.js')).CloudwatchEventTarget
export type CloudwatchEventTarget = import('@cdktf/provider-aws/lib/cloudwatch-event-target/index.js').CloudwatchEventTarget
export const CloudwatchLogGroup = (load('@cdktf/provider-aws/lib/cloudwatch-log-group/index.js') as typeof import('@cdktf/provider-aws/lib/cloudwatch-log-group/index.js')).CloudwatchLogGroup
export type CloudwatchLogGroup = import('@cdktf/provider-aws/lib/cloudwatch-log-group/index.js').CloudwatchLogGroup
export const CloudwatchMetricAlarm = (load('@cdktf/provider-aws/lib/cloudwatch-metric-alarm/index.js') as typeof import('@cdktf/provider-aws/lib/cloudwatch-metric-alarm/index.js')).CloudwatchMetricAlarm
export type CloudwatchMetricAlarm = import('@cdktf/provider-aws/lib/cloudwatch-metric-alarm/index.js').CloudwatchMetricAlarm
export const IamRole = (load('@cdktf/provider-aws/lib/iam-role/index.js') as typeof import('@cdktf/provider-aws/lib/iam-role/index.js')).IamRole
export type IamRole = import('@cdktf/provider-aws/lib/iam-role/index.js').IamRole
export const IamRolePolicy = (load('@cdktf/provider-aws/lib/iam-role-policy/index.js') as typeof import('@cdktf/provider-aws/lib/iam-role-policy/index.js')).IamRolePolicy
export type IamRolePolicy = import('@cdktf/provider-aws/lib/iam-role-policy/index.js').IamRolePolicy
export const IamRolePolicyAttachment = (load('@cdktf/provider-aws/lib/iam-role-policy-attachment/index.js') as typeof import('@cdktf/provider-aws/lib/iam-role-policy-attachment/index.js')).IamRolePolicyAttachment
export type IamRolePolicyAttachment = import('@cdktf/provider-aws/lib/iam-role-policy-attachment/index.js').IamRolePolicyAttachment
export const KmsAlias = (load('@cdktf/provider-aws/lib/kms-alias/index.js') as typeof import('@cdktf/provider-aws/lib/kms-alias/index.js')).KmsAlias
export type KmsAlias = import('@cdktf/provider-aws/lib/kms-alias/index.js').KmsAlias
export const KmsKey = (load('@cdktf/provider-aws/lib/kms-key/index.js') as typeof import('@cdktf/provider-aws/lib/kms-key/index.js')).KmsKey
export type KmsKey = import('@cdktf/provider-aws/lib/kms-key/index.js').KmsKey
export const LambdaCodeSigningConfig = (load('@cdktf/provider-aws/lib/lambda-code-signing-config/index.js') as typeof import('@cdktf/provider-aws/lib/lambda-code-signing-config/index.js')).LambdaCodeSigningConfig
export type LambdaCodeSigningConfig = import('@cdktf/provider-aws/lib/lambda-code-signing-config/index.js').LambdaCodeSigningConfig
export const LambdaEventSourceMapping = (load('@cdktf/provider-aws/lib/lambda-event-source-mapping/index.js') as typeof import('@cdktf/provider-aws/lib/lambda-event-source-mapping/index.js')).LambdaEventSourceMapping
export type LambdaEventSourceMapping = import('@cdktf/provider-aws/lib/lambda-event-source-mapping/index.js').LambdaEventSourceMapping
export const LambdaFunction = (load('@cdktf/provider-aws/lib/lambda-function/index.js') as typeof import('@cdktf/provider-aws/lib/lambda-function/index.js')).LambdaFunction
export type LambdaFunction = import('@cdktf/provider-aws/lib/lambda-function/index.js').LambdaFunction
export const LambdaFunctionEventInvokeConfig = (load('@cdktf/provider-aws/lib/lambda-function-event-invoke-config/index.js') as typeof import('@cdktf/provider-aws/lib/lambda-function-event-invoke-config/index.js')).LambdaFunctionEventInvokeConfig
export type LambdaFunctionEventInvokeConfig = import('@cdktf/provider-aws/lib/lambda-function-event-invoke-config/index.js').LambdaFunctionEventInvokeConfig
export const LambdaPermission = (load('@cdktf/provider-aws/lib/lambda-permission/index.js') as typeof import('@cdktf/provider-aws/lib/lambda-permission/index.js')).LambdaPermission
export type LambdaPermission = import('@cdktf/provider-aws/lib/lambda-permission/index.js').LambdaPermission
export const S3Bucket = (load('@cdktf/provider-aws/lib/s3-bucket/index.js') as typeof import('@cdktf/provider-aws/lib/s3-bucket/index.js')).S3Bucket
export type S3Bucket = import('@cdktf/provider-aws/lib/s3-bucket/index.js').S3Bucket
export const S3BucketLifecycleConfiguration = (load('@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration/index.js') as typeof import('@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration/index.js')).S3BucketLifecycleConfiguration
export type S3BucketLifecycleConfiguration = import('@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration/index.js').S3BucketLifecycleConfiguration
export const S3BucketLoggingA = (load('@cdktf/provider-aws/lib/s3-bucket-logging/index.js') as typeof import('@cdktf/provider-aws/lib/s3-bucket-logging/index.js')).S3BucketLoggingA
export type S3BucketLoggingA = import('@cdktf/provider-aws/lib/s3-bucket-logging/index.js').S3BucketLoggingA
export const S3BucketNotification = (load('@cdktf/provider-aws/lib/s3-bucket-notification/index.js') as typeof import('@cdktf/provider-aws/lib/s3-bucket-notification/index.js')).S3BucketNotification
export type S3BucketNotification = import('@cdktf/provider-aws/lib/s3-bucket-notification/index.js').S3BucketNotification
export const S3BucketObjectLockConfigurationA = (load('@cdktf/provider-aws/lib/s3-bucket-object-lock-configuration/index.js') as typeof import('@cdktf/provider-aws/lib/s3-bucket-object-lock-configuration/index.js')).S3BucketObjectLockConfigurationA
export type S3BucketObjectLockConfigurationA = import('@cdktf/provider-aws/lib/s3-bucket-object-lock-configuration/index.js').S3BucketObjectLockConfigurationA
export const S3BucketOwnershipControls = (load('@cdktf/provider-aws/lib/s3-bucket-ownership-controls/index.js') as typeof import('@cdktf/provider-aws/lib/s3-bucket-ownership-controls/index.js')).S3BucketOwnershipControls
export type S3BucketOwnershipControls = import('@cdktf/provider-aws/lib/s3-bucket-ownership-controls/index.js').S3BucketOwnershipControls
export const S3BucketPolicy = (load('@cdktf/provider-aws/lib/s3-bucket-policy/index.js') as typeof import('@cdktf/provider-aws/lib/s3-bucket-policy/index.js')).S3BucketPolicy
export type S3BucketPolicy = import('@cdktf/provider-aws/lib/s3-bucket-policy/index.js').S3BucketPolicy
export const S3BucketPublicAccessBlock = (load('@cdktf/provider-aws/lib/s3-bucket-public-access-block/index.js') as typeof import('@cdktf/provider-aws/lib/s3-bucket-public-access-block/index.js')).S3BucketPublicAccessBlock
export type S3BucketPublicAccessBlock = import('@cdktf/provider-aws/lib/s3-bucket-public-access-block/index.js').S3BucketPublicAccessBlock
export const S3BucketServerSideEncryptionConfigurationA = (load('@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration/index.js') as typeof import('@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration/index.js')).S3BucketServerSideEncryptionConfigurationA
export type S3BucketServerSideEncryptionConfigurationA = import('@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration/index.js').S3BucketServerSideEncryptionConfigurationA
export const S3BucketVersioningA = (load('@cdktf/provider-aws/lib/s3-bucket-versioning/index.js') as typeof import('@cdktf/provider-aws/lib/s3-bucket-versioning/index.js')).S3BucketVersioningA
export type S3BucketVersioningA = import('@cdktf/provider-aws/lib/s3-bucket-versioning/index.js').S3BucketVersioningA
export const SchedulerSchedule = (load('@cdktf/provider-aws/lib/scheduler-schedule/index.js') as typeof import('@cdktf/provider-aws/lib/scheduler-schedule/index.js')).SchedulerSchedule
export type SchedulerSchedule = import('@cdktf/provider-aws/lib/scheduler-schedule/index.js').SchedulerSchedule
export const SnsTopic = (load('@cdktf/provider-aws/lib/sns-topic/index.js') as typeof import('@cdktf/provider-aws/lib/sns-topic/index.js')).SnsTopic
export type SnsTopic = import('@cdktf/provider-aws/lib/sns-topic/index.js').SnsTopic
export const SnsTopicPolicy = (load('@cdktf/provider-aws/lib/sns-topic-policy/index.js') as typeof import('@cdktf/provider-aws/lib/sns-topic-policy/index.js')).SnsTopicPolicy
export type SnsTopicPolicy = import('@cdktf/provider-aws/lib/sns-topic-policy/index.js').SnsTopicPolicy
export const SnsTopicSubscription = (load('@cdktf/provider-aws/lib/sns-topic-subscription/index.js') as typeof import('@cdktf/provider-aws/lib/sns-topic-subscription/index.js')).SnsTopicSubscription
export type SnsTopicSubscription = import('@cdktf/provider-aws/lib/sns-topic-subscription/index.js').SnsTopicSubscription
export const SqsQueue = (load('@cdktf/provider-aws/lib/sqs-queue/index.js') as typeof import('@cdktf/provider-aws/lib/sqs-queue/index.js')).SqsQueue
export type SqsQueue = import('@cdktf/provider-aws/lib/sqs-queue/index.js').SqsQueue
export const SqsQueuePolicy = (load('@cdktf/provider-aws/lib/sqs-queue-policy/index.js') as typeof import('@cdktf/provider-aws/lib/sqs-queue-policy/index.js')).SqsQueuePolicy
export type SqsQueuePolicy = import('@cdktf/provider-aws/lib/sqs-queue-policy/index.js').SqsQueuePolicy

process.setSourceMapsEnabled(sourceMaps)
