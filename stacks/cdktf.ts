/**
 * The one seam between the stacks and the CDK for Terraform libraries. Every other file in
 * `stacks/` imports `cdktf`, `constructs` and `@cdktf/provider-aws` only through here, so a
 * move to CDK Terrain (`cdktn`, the maintained fork of the archived cdktf 0.21) is a change
 * of module names in this file alone.
 *
 * Provider classes come from deep imports: the provider's root index costs seconds and
 * hundreds of MB per process.
 */
export { App, AssetType, Fn, TerraformAsset, TerraformOutput, TerraformStack, Testing, Token } from 'cdktf'
export type { AppConfig } from 'cdktf'
export { Construct } from 'constructs'

export { AwsProvider } from '@cdktf/provider-aws/lib/provider/index.js'
export { CloudwatchEventBus } from '@cdktf/provider-aws/lib/cloudwatch-event-bus/index.js'
export { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule/index.js'
export { CloudwatchEventTarget } from '@cdktf/provider-aws/lib/cloudwatch-event-target/index.js'
export { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group/index.js'
export { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm/index.js'
export { IamRole } from '@cdktf/provider-aws/lib/iam-role/index.js'
export { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy/index.js'
export { IamRolePolicyAttachment } from '@cdktf/provider-aws/lib/iam-role-policy-attachment/index.js'
export { KmsAlias } from '@cdktf/provider-aws/lib/kms-alias/index.js'
export { KmsKey } from '@cdktf/provider-aws/lib/kms-key/index.js'
export { LambdaCodeSigningConfig } from '@cdktf/provider-aws/lib/lambda-code-signing-config/index.js'
export { LambdaEventSourceMapping } from '@cdktf/provider-aws/lib/lambda-event-source-mapping/index.js'
export { LambdaFunction } from '@cdktf/provider-aws/lib/lambda-function/index.js'
export { LambdaFunctionEventInvokeConfig } from '@cdktf/provider-aws/lib/lambda-function-event-invoke-config/index.js'
export { LambdaPermission } from '@cdktf/provider-aws/lib/lambda-permission/index.js'
export { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket/index.js'
export { S3BucketLifecycleConfiguration } from '@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration/index.js'
export { S3BucketLoggingA } from '@cdktf/provider-aws/lib/s3-bucket-logging/index.js'
export { S3BucketNotification } from '@cdktf/provider-aws/lib/s3-bucket-notification/index.js'
export { S3BucketObjectLockConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-object-lock-configuration/index.js'
export { S3BucketOwnershipControls } from '@cdktf/provider-aws/lib/s3-bucket-ownership-controls/index.js'
export { S3BucketPolicy } from '@cdktf/provider-aws/lib/s3-bucket-policy/index.js'
export { S3BucketPublicAccessBlock } from '@cdktf/provider-aws/lib/s3-bucket-public-access-block/index.js'
export { S3BucketServerSideEncryptionConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration/index.js'
export { S3BucketVersioningA } from '@cdktf/provider-aws/lib/s3-bucket-versioning/index.js'
export { SchedulerSchedule } from '@cdktf/provider-aws/lib/scheduler-schedule/index.js'
export { SnsTopic } from '@cdktf/provider-aws/lib/sns-topic/index.js'
export { SnsTopicPolicy } from '@cdktf/provider-aws/lib/sns-topic-policy/index.js'
export { SnsTopicSubscription } from '@cdktf/provider-aws/lib/sns-topic-subscription/index.js'
export { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue/index.js'
export { SqsQueuePolicy } from '@cdktf/provider-aws/lib/sqs-queue-policy/index.js'
