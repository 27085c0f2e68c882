import { callRecorderLogger, callRecordingEnabled } from './call-recorder.js'

/**
 * Settings shared by every AWS SDK v3 client the toolkit creates. Credentials, profile and
 * region come from the SDK's standard chain (`AWS_PROFILE`, `AWS_REGION`, SSO, instance
 * roles, ...); `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` are honoured by the SDK
 * itself. When an endpoint override is present we switch S3 to path-style addressing,
 * which S3-compatible endpoints and the emulator need.
 */
export interface SdkClientSettings {
  region?: string
  forcePathStyle?: boolean
  maxAttempts?: number
  /** set only while AWS calls are recorded (aws/call-recorder.ts) */
  logger?: ReturnType<typeof callRecorderLogger>
}

/** Builds client settings from an environment (default: `process.env`). */
export function sdkSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): SdkClientSettings {
  const settings: SdkClientSettings = { maxAttempts: 5 }
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION
  if (region) settings.region = region
  if (env.AWS_ENDPOINT_URL || env.AWS_ENDPOINT_URL_S3) settings.forcePathStyle = true
  if (callRecordingEnabled(env)) settings.logger = callRecorderLogger(env)
  return settings
}

/** Settings for clients acting as an assumed role: recorded calls name the role. */
export function asPrincipal(settings: SdkClientSettings, env: NodeJS.ProcessEnv, roleArn: string): SdkClientSettings {
  return settings.logger ? { ...settings, logger: callRecorderLogger(env, roleArn) } : settings
}
