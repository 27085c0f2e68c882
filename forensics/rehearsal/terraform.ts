/**
 * Terraform for the deploy rehearsal: finds the binary and the AWS provider (a local plugin
 * mirror when one exists, the registry otherwise), writes the project's own CLI
 * configuration (`TF_CLI_CONFIG_FILE`, so nothing depends on the operator's `~/.terraformrc`)
 * and runs `terraform` in a stack directory with its output kept in a log file.
 */
import { spawn, spawnSync } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { basename, join } from 'node:path'
import { satisfiesConstraint } from './version-constraint.js'

/** The provider every stack uses. */
export const AWS_PROVIDER_ADDRESS = 'registry.terraform.io/hashicorp/aws'

/** Raised when Terraform fails or cannot run; names the stack, the command and the log. */
export class TerraformError extends Error {
  readonly logFile?: string
  constructor(message: string, options?: { cause?: unknown; logFile?: string }) {
    super(message, options)
    this.name = 'TerraformError'
    if (options?.logFile) this.logFile = options.logFile
  }
}

/** A plugin mirror directory (the folder holding `registry.terraform.io/`) and its AWS provider versions. */
export interface ProviderMirror {
  path: string
  awsVersions: string[]
}

/** What the rehearsal runs with. */
export interface TerraformToolchain {
  binary: string
  version: string
  /** absent: providers come from the registry */
  mirror?: ProviderMirror
}

/** Either a toolchain or the plain reason there is none. */
export type TerraformAvailability = { available: true; toolchain: TerraformToolchain } | { available: false; reason: string }

/**
 * Where plugin mirrors are looked for: `FORENSICS_TF_PLUGIN_MIRROR` when set, then
 * Terraform's own implied mirror directories on Linux and macOS, then `/opt/tf-plugins`
 * (where these machines keep theirs).
 */
export function mirrorCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.FORENSICS_TF_PLUGIN_MIRROR) return [env.FORENSICS_TF_PLUGIN_MIRROR]
  const home = env.HOME ?? homedir()
  const data = env.XDG_DATA_HOME ?? join(home, '.local', 'share')
  return [
    join(home, '.terraform.d', 'plugins'),
    join(data, 'terraform', 'plugins'),
    '/usr/local/share/terraform/plugins',
    '/usr/share/terraform/plugins',
    join(home, 'Library', 'Application Support', 'io.terraform', 'plugins'),
    '/opt/tf-plugins',
  ]
}

/** The first candidate holding an AWS provider for this platform, with its versions. */
export function findProviderMirror(env: NodeJS.ProcessEnv = process.env): ProviderMirror | undefined {
  const platform = `${process.platform}_${process.arch === 'x64' ? 'amd64' : process.arch}`
  for (const path of mirrorCandidates(env)) {
    const dir = join(path, AWS_PROVIDER_ADDRESS)
    if (!existsSync(dir)) continue
    const awsVersions = readdirSync(dir).filter((v) => existsSync(join(dir, v, platform)))
    if (awsVersions.length > 0) return { path, awsVersions: awsVersions.sort() }
  }
  return undefined
}

/** Finds Terraform (`FORENSICS_TERRAFORM` or `terraform` on PATH) and the provider mirror. */
export function terraformAvailability(env: NodeJS.ProcessEnv = process.env): TerraformAvailability {
  const binary = env.FORENSICS_TERRAFORM ?? 'terraform'
  const r = spawnSync(binary, ['version', '-json'], { encoding: 'utf8', env: { ...env, CHECKPOINT_DISABLE: '1', TF_CLI_CONFIG_FILE: '/dev/null' } })
  if (r.error || r.status !== 0) {
    return { available: false, reason: `no terraform binary (${binary}: ${r.error?.message ?? `exit ${r.status}`}); install Terraform ≥ 1.5 or set FORENSICS_TERRAFORM` }
  }
  const version = String((JSON.parse(r.stdout) as { terraform_version?: string }).terraform_version ?? 'unknown')
  const mirror = findProviderMirror(env)
  return { available: true, toolchain: { binary, version, ...(mirror ? { mirror } : {}) } }
}

/**
 * The project CLI configuration: the AWS provider from the mirror when there is one (and
 * only from there, so a version the plan does not admit fails at init instead of reaching
 * for the network), every other provider the usual way.
 */
export function cliConfig(toolchain: TerraformToolchain): string {
  if (!toolchain.mirror) return '# no local plugin mirror: providers come from the registry\n'
  return [
    'provider_installation {',
    '  filesystem_mirror {',
    `    path    = ${JSON.stringify(toolchain.mirror.path)}`,
    `    include = [${JSON.stringify(AWS_PROVIDER_ADDRESS)}]`,
    '  }',
    '  direct {',
    `    exclude = [${JSON.stringify(AWS_PROVIDER_ADDRESS)}]`,
    '  }',
    '}',
    '',
  ].join('\n')
}

/** Throws unless the mirror offers an AWS provider the plan's constraint admits. */
export function assertMirrorAdmitted(toolchain: TerraformToolchain, constraint: string, stack: string): void {
  const mirror = toolchain.mirror
  if (!mirror) return
  if (mirror.awsVersions.some((v) => satisfiesConstraint(v, constraint))) return
  throw new TerraformError(
    `stack ${stack} requires the AWS provider ${constraint}, but the plugin mirror ${mirror.path} has only ${mirror.awsVersions.join(', ')}: ` +
      'add an admitted version to the mirror, or point FORENSICS_TF_PLUGIN_MIRROR at one that has it',
  )
}

/** The outcome of one terraform command. */
export interface TerraformRun {
  code: number
  seconds: number
  logFile: string
  /** the last lines of the output (for error messages) */
  tail: string
  /** everything printed on stdout */
  stdout: string
}

/** Runs terraform commands for one stack directory with a fixed environment. */
export class TerraformRunner {
  readonly cliConfigFile: string
  readonly #toolchain: TerraformToolchain
  readonly #env: NodeJS.ProcessEnv
  readonly #logDir: string

  /** Writes the CLI configuration into `workDir`; `env` adds credentials and the like. */
  constructor(toolchain: TerraformToolchain, workDir: string, env: NodeJS.ProcessEnv) {
    this.#toolchain = toolchain
    mkdirSync(workDir, { recursive: true })
    this.#logDir = join(workDir, 'logs')
    mkdirSync(this.#logDir, { recursive: true })
    this.cliConfigFile = join(workDir, 'terraform.tfrc')
    writeFileSync(this.cliConfigFile, cliConfig(toolchain))
    this.#env = {
      ...env,
      TF_CLI_CONFIG_FILE: this.cliConfigFile,
      TF_IN_AUTOMATION: '1',
      TF_INPUT: '0',
      CHECKPOINT_DISABLE: '1',
      TF_PLUGIN_CACHE_DIR: '',
    }
  }

  /** Runs `terraform <args>` in `dir`; resolves with the exit code (never rejects for a non-zero one). */
  run(dir: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<TerraformRun> {
    const logFile = join(this.#logDir, `${basename(dir)}-${args[0]}-${Date.now()}.log`)
    const started = Date.now()
    return new Promise((resolve, reject) => {
      const log = createWriteStream(logFile)
      let tail = ''
      const stdout: Buffer[] = []
      // `state` subcommands take no -no-color
      const color = args[0] === 'state' ? [] : ['-no-color']
      const child = spawn(this.#toolchain.binary, [...args, ...color], { cwd: dir, env: { ...this.#env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] })
      const keep = (chunk: Buffer): void => {
        log.write(chunk)
        tail = (tail + chunk.toString('utf8')).slice(-4000)
      }
      child.stdout.on('data', (chunk: Buffer) => {
        stdout.push(chunk)
        keep(chunk)
      })
      child.stderr.on('data', keep)
      child.once('error', (cause) => {
        log.end()
        reject(new TerraformError(`could not run ${this.#toolchain.binary} ${args[0]} in ${dir}: ${cause.message}`, { cause, logFile }))
      })
      child.once('close', (code) => {
        log.end(() => resolve({ code: code ?? 1, seconds: (Date.now() - started) / 1000, logFile, tail, stdout: Buffer.concat(stdout).toString('utf8') }))
      })
    })
  }

  /** Like {@link run}, but a non-zero exit is a {@link TerraformError} naming the stack and the log. */
  async mustRun(dir: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<TerraformRun> {
    const r = await this.run(dir, args, extraEnv)
    if (r.code !== 0) {
      const errors = r.tail.split('\n').filter((l) => /^(│ )?Error:/.test(l)).map((l) => l.replace(/^│ /, '')).slice(0, 5)
      throw new TerraformError(
        `terraform ${args[0]} of stack ${basename(dir)} failed (exit ${r.code})${errors.length ? `: ${errors.join('; ')}` : ''}; full output in ${r.logFile}`,
        { logFile: r.logFile },
      )
    }
    return r
  }
}
