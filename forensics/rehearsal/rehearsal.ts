/**
 * A deploy rehearsal: the synthesized stacks applied with Terraform into the local emulator,
 * each stack with credentials of its own account (the emulator keeps accounts apart by the
 * credentials of a request; STS AssumeRole into an account hands them out), exactly as
 * `cdktf deploy` would apply them into AWS, then destroyed.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { STSClient, AssumeRoleCommand } from '@aws-sdk/client-sts'
import type { Emulator } from '../local/emulator.js'
import { writeEmulatorOverride, REHEARSAL_MARKER, type ReplacedStatement, type SynthesizedPlan } from './emulator-override.js'
import { assertMirrorAdmitted, TerraformError, TerraformRunner, type TerraformRun, type TerraformToolchain } from './terraform.js'

/** Credentials of one account in the emulator. */
export interface AccountCredentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken: string
}

/**
 * Credentials that act as `accountId` in the emulator: an AssumeRole into the account (the
 * emulator does not check the role exists; what matters is the account its keys belong to).
 */
export async function emulatorAccountCredentials(emulator: Emulator, accountId: string, roleName = 'forensics-rehearsal'): Promise<AccountCredentials> {
  const sts = new STSClient(emulator.clientConfig())
  const out = await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${accountId}:role/${roleName}`, RoleSessionName: 'rehearsal' }))
  const c = out.Credentials
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) throw new TerraformError(`the emulator returned no credentials for account ${accountId}`)
  return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken }
}

/** One stack of the rehearsal. */
export interface RehearsalStack {
  name: string
  accountId: string
  dir: string
  /** resources in the plan */
  planned: number
  /** the stack's local state file */
  statePath: string
  replaced: ReplacedStatement[]
  /** the override's environment for every terraform command of the stack (endpoints at the emulator) */
  environment: Record<string, string>
  /** the plan reads another stack's outputs (`terraform_remote_state`): it is applied after the others */
  readsOtherStacks: boolean
}

/** Options of {@link DeployRehearsal.prepare}. */
export interface RehearsalOptions {
  emulator: Emulator
  toolchain: TerraformToolchain
  /** the rehearsal synth output (holds `.forensics-rehearsal` and `stacks/`) */
  synthDir: string
  /** where state, the CLI config and logs go */
  workDir: string
  /** stacks in apply order, each with the account it deploys into */
  stacks: { name: string; accountId: string }[]
  log?: (line: string) => void
}


/** Marks a synth output as a rehearsal's (the only place emulator overrides are written). */
export function markRehearsalOutput(synthDir: string): void {
  writeFileSync(join(synthDir, REHEARSAL_MARKER), 'synthesized for the emulator deploy rehearsal: never deploy this directory\n')
}

/** Terraform applies and destroys of the synthesized stacks in the emulator. */
export class DeployRehearsal {
  readonly stacks: RehearsalStack[]
  readonly #runner: TerraformRunner
  readonly #credentials: Map<string, AccountCredentials>
  readonly #emulator: Emulator

  private constructor(emulator: Emulator, runner: TerraformRunner, stacks: RehearsalStack[], credentials: Map<string, AccountCredentials>) {
    this.#emulator = emulator
    this.#runner = runner
    this.stacks = stacks
    this.#credentials = credentials
  }

  /** Writes the CLI config and each stack's override, checks the provider and runs `terraform init`. */
  static async prepare(o: RehearsalOptions): Promise<DeployRehearsal> {
    const log = o.log ?? (() => undefined)
    // the SDK's own variables point at the emulator too: nothing the provider does reaches AWS
    const runner = new TerraformRunner(o.toolchain, o.workDir, {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      AWS_ENDPOINT_URL: o.emulator.endpoint,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_CONFIG_FILE: '/dev/null',
    })
    log(`terraform ${o.toolchain.version}; AWS provider from ${o.toolchain.mirror ? `the plugin mirror ${o.toolchain.mirror.path} (${o.toolchain.mirror.awsVersions.join(', ')})` : 'the registry'}`)
    const stacks: RehearsalStack[] = []
    const credentials = new Map<string, AccountCredentials>()
    for (const s of o.stacks) {
      const dir = join(o.synthDir, 'stacks', s.name)
      const plan = JSON.parse(readFileSync(join(dir, 'cdk.tf.json'), 'utf8')) as SynthesizedPlan
      assertMirrorAdmitted(o.toolchain, plan.terraform?.required_providers?.aws?.version ?? '', s.name)
      const statePath = join(o.workDir, `${s.name}.tfstate`)
      const override = writeEmulatorOverride(dir, plan, { endpoint: o.emulator.endpoint, statePath })
      log(`emulator only: ${s.name} reaches ${override.endpoints.join(', ')} (and every other service) at ${o.emulator.endpoint} through ${Object.keys(override.environment).join(', ')}`)
      for (const r of override.replaced) log(`emulator only: ${s.name} ${r.resource} without ${r.sid} (${r.why})`)
      const planned = Object.values(plan.resource ?? {}).reduce((n, byId) => n + Object.keys(byId).length, 0)
      stacks.push({ name: s.name, accountId: s.accountId, dir, planned, statePath, replaced: override.replaced, environment: override.environment, readsOtherStacks: Object.keys(plan.data?.terraform_remote_state ?? {}).length > 0 })
      if (!credentials.has(s.accountId)) credentials.set(s.accountId, await emulatorAccountCredentials(o.emulator, s.accountId))
    }
    // each stack initializes its own directory: all at once
    await settleAll(stacks.map((s) => runner.mustRun(s.dir, ['init', '-input=false'])))
    return new DeployRehearsal(o.emulator, runner, stacks, credentials)
  }

  /** The stack named `name`. */
  stack(name: string): RehearsalStack {
    const s = this.stacks.find((x) => x.name === name)
    if (!s) throw new TerraformError(`no stack ${name} in this rehearsal (have ${this.stacks.map((x) => x.name).join(', ')})`)
    return s
  }

  /** Credentials of a stack's account (for checks made as that account). */
  credentials(accountId: string): AccountCredentials {
    const c = this.#credentials.get(accountId)
    if (!c) throw new TerraformError(`no credentials for account ${accountId} in this rehearsal`)
    return c
  }

  #env(stack: RehearsalStack): NodeJS.ProcessEnv {
    const c = this.credentials(stack.accountId)
    return { ...stack.environment, AWS_ACCESS_KEY_ID: c.accessKeyId, AWS_SECRET_ACCESS_KEY: c.secretAccessKey, AWS_SESSION_TOKEN: c.sessionToken, AWS_REGION: this.#emulator.region }
  }

  /** `terraform apply`; throws a {@link TerraformError} naming the failing resources. */
  async apply(name: string): Promise<TerraformRun & { resources: number }> {
    const stack = this.stack(name)
    const run = await this.#runner.mustRun(stack.dir, ['apply', '-auto-approve', '-input=false', '-parallelism=20'], this.#env(stack))
    return { ...run, resources: this.stateList(name).length }
  }

  /**
   * `terraform apply` of every stack. Stacks that read no other stack's state (each deploys
   * into its own account and names the others by ARN) are applied at the same time: most of an
   * apply is the provider waiting for AWS to propagate (SQS attributes, KMS policies, S3
   * lifecycle rules), so one apply's waits hide the other's. A stack that reads another's
   * outputs is applied after those. Resolves when every apply has ended; the first failure
   * is thrown then.
   */
  async applyAll(): Promise<Map<string, TerraformRun & { resources: number }>> {
    const independent = this.stacks.filter((s) => !s.readsOtherStacks)
    const results = new Map<string, TerraformRun & { resources: number }>()
    const applied = await settleAll(independent.map(async (s) => [s.name, await this.apply(s.name)] as const))
    for (const [name, run] of applied) results.set(name, run)
    for (const s of this.stacks.filter((x) => x.readsOtherStacks)) results.set(s.name, await this.apply(s.name))
    return results
  }

  /** `terraform destroy` (resolves with the exit code: a refused resource is an outcome, not an exception). */
  async destroy(name: string): Promise<TerraformRun & { remaining: string[] }> {
    const stack = this.stack(name)
    // the state was just applied by this rehearsal: refreshing it first would only cost time
    const run = await this.#runner.run(stack.dir, ['destroy', '-auto-approve', '-input=false', '-refresh=false', '-parallelism=20'], this.#env(stack))
    return { ...run, remaining: this.stateList(name) }
  }

  /**
   * The resource instance addresses in a stack's state, as `terraform state list` prints them,
   * read from the local state file (a terraform process per listing cost a second of CPU and
   * more of wall on a busy machine).
   */
  stateList(name: string): string[] {
    const stack = this.stack(name)
    if (!existsSync(stack.statePath)) return []
    const raw = JSON.parse(readFileSync(stack.statePath, 'utf8')) as { resources?: StateResource[] }
    return (raw.resources ?? []).flatMap((r) => r.instances.map((i) => instanceAddress(r, i.index_key)))
  }

  /**
   * A stack's applied resources, in the shape `terraform show -json` prints them, read from
   * the local state file (no provider start: on a busy machine that costs tens of seconds).
   */
  state(name: string): TerraformStateDocument {
    const stack = this.stack(name)
    const raw = JSON.parse(readFileSync(stack.statePath, 'utf8')) as { resources?: StateResource[] }
    const resources = (raw.resources ?? []).filter((r) => r.mode === 'managed' && r.instances.length > 0).map((r) => ({ address: `${r.type}.${r.name}`, type: r.type, name: r.name, values: r.instances[0].attributes }))
    return { values: { root_module: { resources } } }
  }

  /** A stack's synthesized plan. */
  plan(name: string): SynthesizedPlan {
    return JSON.parse(readFileSync(join(this.stack(name).dir, 'cdk.tf.json'), 'utf8')) as SynthesizedPlan
  }
}

/** The part of `terraform show -json` the rehearsal reads. */
export interface TerraformStateDocument {
  values?: { root_module?: { resources?: { address: string; type: string; name: string; values: Record<string, unknown> }[] } }
}

/** One resource of a Terraform state file (format version 4), as far as the rehearsal reads it. */
interface StateResource {
  module?: string
  mode: string
  type: string
  name: string
  instances: { index_key?: string | number; attributes: Record<string, unknown> }[]
}

/** `module.x.data.aws_y.z["k"]`: an instance's address in Terraform's own notation. */
function instanceAddress(r: StateResource, key: string | number | undefined): string {
  const base = `${r.module ? `${r.module}.` : ''}${r.mode === 'data' ? 'data.' : ''}${r.type}.${r.name}`
  return key === undefined ? base : `${base}[${JSON.stringify(key)}]`
}

/** Waits for every promise; then resolves with all values or throws the first failure (nothing is left running). */
async function settleAll<T>(promises: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises)
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed) throw failed.reason
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value)
}
