/**
 * The drill's bundle step: builds the case bundle into a directory with the same code as
 * `forensics bundle`, then verifies the file offline with the same code as
 * `forensics verify`. A build refused for an integrity problem is a failed verification,
 * not an error.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { buildBundle } from '../bundle/build-bundle.js'
import { verifyBundleFile } from '../bundle/verify-bundle.js'
import { IntegrityError } from '../errors.js'
import type { CustodyEntry } from '../custody.js'
import type { EvidenceStore } from '../evidence-store.js'
import type { Signer } from '../signer.js'
import type { BundleRunner, DrillBundle } from './drill-checks.js'

/** A {@link BundleRunner} writing `<dir>/<caseId>.zip`. */
export function fileBundleRunner(opts: { store: EvidenceStore; signer: Signer; dir: string; actor?: CustodyEntry['actor'] }): BundleRunner {
  return {
    async buildAndVerify(caseId: string): Promise<DrillBundle> {
      await mkdir(opts.dir, { recursive: true })
      const path = join(opts.dir, `${caseId}.zip`)
      let built
      try {
        built = await buildBundle({ store: opts.store, signer: opts.signer, caseId, format: 'zip', output: { path, overwrite: true }, actor: opts.actor ?? { tool: 'forensics-drill' } })
      } catch (e) {
        if (e instanceof IntegrityError) return { path, sha256: '', files: 0, findings: [`bundle not built: ${e.message}`, ...e.findings] }
        throw e
      }
      const v = await verifyBundleFile(path)
      return { path, sha256: built.sha256, files: built.files, findings: v.findings.map((f) => `${f.member}: ${f.message} [${f.check}]`) }
    },
  }
}
