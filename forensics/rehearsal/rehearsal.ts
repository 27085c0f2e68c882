/**
 * A deploy rehearsal: the synthesized stacks applied with Terraform into the local emulator,
 * each stack with credentials of its own account (the emulator keeps accounts apart by the
 * credentials of a request; STS AssumeRole into an account hands them out), exactly as
 * `cdktf deploy` would apply them into AWS, then destroyed.
 */
import { readFileSync, writeFileSync } from 'node:fs'
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
      for (const r of override.replaced) log(`emulator only: ${s.name} ${r.resource} without ${r.sid} (${r.why})`)
      const planned = Object.values(plan.resource ?? {}).reduce((n, byId) => n + Object.keys(byId).length, 0)
      stacks.push({ name: s.name, accountId: s.accountId, dir, planned, statePath, replaced: override.replaced })
      if (!credentials.has(s.accountId)) credentials.set(s.accountId, await emulatorAccountCredentials(o.emulator, s.accountId))
      await runner.mustRun(dir, ['init', '-input=false'])
    }
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
    return { AWS_ACCESS_KEY_ID: c.accessKeyId, AWS_SECRET_ACCESS_KEY: c.secretAccessKey, AWS_SESSION_TOKEN: c.sessionToken, AWS_REGION: this.#emulator.region }
  }

  /** `terraform apply`; throws a {@link TerraformError} naming the failing resources. */
  async apply(name: string): Promise<TerraformRun & { resources: number }> {
    const stack = this.stack(name)
    const run = await this.#runner.mustRun(stack.dir, ['apply', '-auto-approve', '-input=false', '-parallelism=20'], this.#env(stack))
    return { ...run, resources: (await this.stateList(name)).length }
  }

  /** `terraform destroy` (resolves with the exit code: a refused resource is an outcome, not an exception). */
  async destroy(name: string): Promise<TerraformRun & { remaining: string[] }> {
    const stack = this.stack(name)
    // the state was just applied by this rehearsal: refreshing it first would only cost time
    const run = await this.#runner.run(stack.dir, ['destroy', '-auto-approve', '-input=false', '-refresh=false', '-parallelism=20'], this.#env(stack))
    return { ...run, remaining: await this.stateList(name) }
  }

  /** The resource addresses in a stack's state. */
  async stateList(name: string): Promise<string[]> {
    const stack = this.stack(name)
    const r = await this.#runner.run(stack.dir, ['state', 'list'], this.#env(stack))
    if (r.code !== 0) throw new TerraformError(`terraform state list of ${name} failed; see ${r.logFile}`, { logFile: r.logFile })
    return r.stdout.split('\n').map((l) => l.trim()).filter(Boolean)
  }

  /**
   * A stack's applied resources, in the shape `terraform show -json` prints them, read from
   * the local state file (no provider start: on a busy machine that costs tens of seconds).
   */
  state(name: string): TerraformStateDocument {
    const stack = this.stack(name)
    const raw = JSON.parse(readFileSync(stack.statePath, 'utf8')) as { resources?: { mode: string; type: string; name: string; instances: { attributes: Record<string, unknown> }[] }[] }
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
