import t from 'tap'
import { tsRegister } from './fixtures/ts.js'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { Testing, TerraformStack } from '../stacks/cdktf.js'
import { bundleHandlers, CaptureFunction, ForensicsStack, repositoryRoot, synthesizeForensicsApp, resolveConfig } from '../stacks/index.js'
import { enabledFunctionKeys, routeFor } from '../forensics/routing.js'
import { BUNDLE_KEYS } from '../stacks/bundle.js'
import { parseConfig } from '../forensics/config.js'

const example = readFileSync(join(repositoryRoot, 'forensics.config.json'), 'utf8')
const config = resolveConfig({ inline: JSON.parse(example) })
const scratch = mkdtempSync(join(tmpdir(), 'forensics-stacks-'))

t.test('one esbuild run bundles every handler into a content-addressed directory', async (t) => {
  const bundles = bundleHandlers()
  // every routed function plus containment, which is bundled whether or not it is deployed
  t.same(Object.keys(bundles), [...BUNDLE_KEYS])
  for (const key of BUNDLE_KEYS) {
    const b = bundles[key]
    t.match(b.dir, new RegExp(`${key}-${b.sha256.slice(0, 16)}$`))
    t.ok(existsSync(join(b.dir, 'index.mjs')))
    t.ok(b.bytes > 0)
    t.match(readFileSync(join(b.dir, 'index.mjs'), 'utf8'), /export\s*\{[^}]*\bhandler\b[^}]*\}/, `${key} bundle exports handler`)
    t.equal(createHash('sha256').update(readFileSync(b.zipPath)).digest('base64'), b.codeSha256, 'codeSha256 is the ZIP hash')
    const unzipped = spawnSync('unzip', ['-p', b.zipPath, 'index.mjs'], { maxBuffer: 256 * 1024 * 1024 })
    const indexSha = createHash('sha256').update(readFileSync(join(b.dir, 'index.mjs'))).digest('hex')
    t.equal(createHash('sha256').update(unzipped.stdout).digest('hex'), indexSha, `${key}.zip holds index.mjs (checked with unzip)`)
    const listed = spawnSync('unzip', ['-Z1', b.zipPath], { encoding: 'utf8' }).stdout.trim().split('\n')
    if (key === 'inspector') {
      // the YARA worker and the WebAssembly engine travel with the handler
      t.same(listed, ['index.mjs', 'inspection-worker.mjs', 'yara_x_js_bg.wasm'], 'inspector.zip lists its assets')
    } else if (key === 'cloudtrail-slice') {
      // the log-file scan worker travels with the handler (a missing one crashed the slice whenever a worker started)
      t.same(listed, ['index.mjs', 'cloudtrail-scan-worker.mjs'], 'cloudtrail-slice.zip lists its scan worker')
      // unpacked outside the repository (no node_modules), the bundled worker scans a log file
      const dir = mkdtempSync(join(tmpdir(), 'forensics-slice-zip-'))
      t.equal(spawnSync('unzip', ['-q', b.zipPath, '-d', dir]).status, 0)
      const log = join(dir, 'log.json.gz')
      const records = [0, 1].map((i) => ({ eventVersion: '1.08', eventTime: `2024-01-01T00:0${i}:00Z`, eventName: 'PutBucketPolicy', eventSource: 's3.amazonaws.com', userIdentity: { arn: 'arn:aws:iam::111111111111:user/mallory' } }))
      writeFileSync(log, gzipSync(JSON.stringify({ Records: records })))
      const probe = `import { Worker } from 'node:worker_threads'
const w = new Worker(new URL('./cloudtrail-scan-worker.mjs', import.meta.url))
w.on('error', (e) => { console.error(e.message); process.exit(1) })
w.on('message', (m) => { console.log(JSON.stringify(m)); process.exit(0) })
w.postMessage({ type: 'start', id: 1, source: { kind: 'path', path: ${JSON.stringify(log)} }, filters: {}, window: { start: 0, end: 8.64e15 } })`
      writeFileSync(join(dir, 'probe.mjs'), probe)
      const ran = spawnSync(process.execPath, [join(dir, 'probe.mjs')], { encoding: 'utf8', cwd: dir })
      t.equal(ran.status, 0, 'the bundled scan worker starts', { stderr: ran.stderr })
      const answer = JSON.parse(ran.stdout || '{}') as { type?: string; result?: { records?: number; matched?: unknown[] } }
      t.equal(answer.type, 'result')
      t.equal(answer.result?.records, 2, 'and scans the file it is sent')
      t.equal(answer.result?.matched?.length, 2)
    } else {
      t.same(listed, ['index.mjs'])
      t.equal(indexSha, b.sha256, 'a single-file bundle is named by the hash of index.mjs')
    }
  }
  t.equal(bundleHandlers(), bundles, 'memoized within the process')
  const elsewhere = bundleHandlers({ outDir: join(scratch, 'bundles') })
  t.equal(elsewhere['drill'].sha256, bundles['drill'].sha256, 'same source, same hash, wherever it is written')
  t.equal(bundleHandlers({ outDir: join(scratch, 'bundles') })['drill'].dir, elsewhere['drill'].dir)
})

t.test('a missing handler entry, or one without `handler`, fails with the file named', async (t) => {
  t.throws(() => bundleHandlers({ entries: { drill: 'collectors/no-such-drill.ts' }, outDir: join(scratch, 'missing') }), {
    message: /missing .*collectors\/no-such-drill\.ts; each must export `handler`/,
  })
  const noHandler = join(scratch, 'no-handler.ts')
  writeFileSync(noHandler, 'export const main = 1\n')
  t.throws(() => bundleHandlers({ entries: { drill: noHandler }, outDir: join(scratch, 'no-handler') }), {
    message: /no-handler\.ts does not export `handler`/,
  })
})

t.test('a second process reuses the bundles while no input changed', async (t) => {
  const outDir = join(scratch, 'cache')
  const entry = join(scratch, 'drill-entry.ts')
  writeFileSync(entry, 'export async function handler(): Promise<string> { return "v1" }\n')
  const script = `import { bundleHandlers } from ${JSON.stringify(join(repositoryRoot, 'stacks', 'bundle.ts'))}
const b = bundleHandlers({ entries: { drill: ${JSON.stringify(entry)} }, outDir: ${JSON.stringify(outDir)} })
console.log(JSON.stringify({ sha: b.drill.sha256, cached: ${JSON.stringify(join(outDir, 'cache.json'))} }))`
  const run = (): { sha: string } => {
    const r = spawnSync(process.execPath, ['--import', tsRegister, '--input-type=module', '-e', script], { encoding: 'utf8', cwd: repositoryRoot })
    t.equal(r.status, 0, r.stderr)
    return JSON.parse(r.stdout) as { sha: string }
  }
  const first = run()
  const stamp = statSync(join(outDir, 'cache.json')).mtimeMs
  t.equal(run().sha, first.sha)
  t.equal(statSync(join(outDir, 'cache.json')).mtimeMs, stamp, 'no rebuild: the cache was not rewritten')
  writeFileSync(entry, 'export async function handler(): Promise<string> { return "v2" }\n')
  t.not(run().sha, first.sha, 'a changed input rebuilds')
})

t.test('synthesizeForensicsApp writes Terraform JSON and assets for every stack', async (t) => {
  const configPath = join(scratch, 'config.json')
  writeFileSync(configPath, example)
  const outdir = join(scratch, 'cdktf.out')
  const { stacks } = synthesizeForensicsApp({ outdir, env: { FORENSICS_CONFIG: configPath } })
  t.equal(stacks.members.length, 1)
  const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')) as { stacks: Record<string, { dependencies: string[] }> }
  t.same(Object.keys(manifest.stacks).sort(), ['forensics', 'forensics-member-222222222222'])
  t.same(manifest.stacks['forensics-member-222222222222'].dependencies, ['forensics'], 'member stacks deploy after the forensics stack')
  for (const s of Object.keys(manifest.stacks)) t.ok(existsSync(join(outdir, 'stacks', s, 'cdk.tf.json')), `${s}/cdk.tf.json`)
  const assets = readdirSync(join(outdir, 'stacks', 'forensics', 'assets'))
  t.equal(assets.length, enabledFunctionKeys(parseConfig(JSON.parse(example))).length, 'one code asset per deployed function')
})

t.test('invalid config fails synth with the field named', async (t) => {
  const bad = join(scratch, 'bad.json')
  writeFileSync(bad, JSON.stringify({ ...JSON.parse(example), evidence: { ...JSON.parse(example).evidence, retentionDays: -5 } }))
  t.throws(() => synthesizeForensicsApp({ outdir: join(scratch, 'bad.out'), env: { FORENSICS_CONFIG: bad } }), { name: 'ValidationError', field: 'evidence.retentionDays' })
})

t.test('config from cdktf context: inline object or file path', async (t) => {
  const saved = process.env.CDKTF_CONTEXT_JSON
  t.teardown(() => {
    if (saved === undefined) delete process.env.CDKTF_CONTEXT_JSON
    else process.env.CDKTF_CONTEXT_JSON = saved
  })
  process.env.CDKTF_CONTEXT_JSON = JSON.stringify({ forensicsConfig: { ...JSON.parse(example), forensicsAccountId: 'nope' } })
  t.throws(() => synthesizeForensicsApp({ outdir: join(scratch, 'ctx.out'), env: {} }), { name: 'ValidationError', field: 'forensicsAccountId' })
  process.env.CDKTF_CONTEXT_JSON = JSON.stringify({ forensicsConfigFile: join(scratch, 'nope.json') })
  t.throws(() => synthesizeForensicsApp({ outdir: join(scratch, 'ctx2.out'), env: {} }), { name: 'ValidationError', message: /nope\.json/ })
  delete process.env.CDKTF_CONTEXT_JSON
  t.equal(resolveConfig({}).name, 'forensics', 'the repository default file')
})

t.test('stacks/main.ts: exit code 2 and the field on stderr for a bad config', async (t) => {
  const bad = join(scratch, 'governance.json')
  writeFileSync(bad, JSON.stringify({ ...JSON.parse(example), evidence: { ...JSON.parse(example).evidence, mode: 'GOVERNANCE' } }))
  const r = spawnSync(process.execPath, ['--import', tsRegister, join(repositoryRoot, 'stacks', 'main.ts')], {
    env: { ...process.env, FORENSICS_CONFIG: bad, CDKTF_OUTDIR: join(scratch, 'main.out'), CHECKPOINT_DISABLE: '1' },
    encoding: 'utf8',
  })
  t.equal(r.status, 2)
  t.match(r.stderr, /forensics: invalid forensics config .*\n\s+evidence\.mode: GOVERNANCE/)
  t.notOk(existsSync(join(scratch, 'main.out', 'manifest.json')), 'nothing synthesized')
})

t.test('constructs refuse to be configured twice', async (t) => {
  const app = Testing.app()
  const stack = new ForensicsStack(app, 'x', { config })
  const fn = stack.functions.drill
  t.type(fn, CaptureFunction)
  t.throws(() => fn.attachPolicy([]), { message: /policy already attached/ })
  t.throws(() => fn.routeAsync(routeFor(config, 'drill'), { onSuccessArn: 'a', onFailureArn: 'b' }), { message: /async routing already configured/ })
  // A construct composed into someone else's stack, routed before its policy exists.
  const other = new TerraformStack(app, 'y')
  const lone = new CaptureFunction(other, 'lone', {
    functionName: 'lone', description: 'd', bundle: bundleHandlers().drill, accountId: '111111111111', region: 'eu-west-1',
    kmsKeyArn: 'arn:aws:kms:eu-west-1:111111111111:key/k', logRetentionDays: 365, reservedConcurrency: 1, timeoutSeconds: 10, memoryMb: 128, environment: {},
  })
  const cfg = lone.routeAsync(routeFor(config, 'drill'), { onSuccessArn: 'arn:s', onFailureArn: 'arn:f' })
  t.same(cfg.dependsOn ?? [], [])
  t.ok(Testing.toHaveResourceWithProperties(Testing.synth(other), 'aws_lambda_function_event_invoke_config', { maximum_retry_attempts: 0, destination_config: { on_success: { destination: 'arn:s' } } }))
})

t.test('the seam: only stacks/cdktf.ts names cdktf, constructs or the provider, and only deep provider paths', async (t) => {
  const dir = join(repositoryRoot, 'stacks')
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.ts'))) {
    const text = readFileSync(join(dir, f), 'utf8')
    const modules = [...text.matchAll(/(?:from |import\(|load\()'([^']+)'/g)].map((m) => m[1]).filter((m) => /^(cdktf|constructs|@cdktf\/)/.test(m))
    if (f === 'cdktf.ts') {
      t.ok(modules.length > 20, 'the seam loads the libraries')
      t.same(modules.filter((m) => m.startsWith('@cdktf/provider-aws') && !/^@cdktf\/provider-aws\/lib\/[\w-]+\/index\.js$/.test(m)), [], 'deep provider paths only')
    } else {
      t.same(modules, [], `${f} goes through the seam`)
    }
  }
})
