import type { Command } from '../command.js'

/**
 * A command as `--help` lists it. Its module (and with it the AWS SDK, archiver, ...) is
 * only loaded when the command runs, so `forensics verify` on an air-gapped laptop starts
 * fast and never loads what it does not use.
 */
export interface CommandEntry {
  name: string
  summary: string
  load(): Promise<Command>
}

/**
 * Every `forensics` command, in the order `--help` lists them. One file per command in
 * this folder; add yours here (test/main.test.ts checks the summary matches the module's).
 */
export const commands: CommandEntry[] = [
  { name: 'capture bucket-config', summary: 'snapshot who can reach a bucket (policy, ACL, public access block, ...) and report what changed', load: async () => (await import('./capture-bucket-config.js')).captureBucketConfigCommand },
  { name: 'capture object-versions', summary: 'capture every version and delete marker of keys or a prefix, bytes included', load: async () => (await import('./capture-object-versions.js')).captureObjectVersionsCommand },
  { name: 'capture cloudtrail', summary: 'capture a CloudTrail slice (S3 archive + LookupEvents) with a digest verdict per log file', load: async () => (await import('./capture-cloudtrail.js')).captureCloudTrailCommand },
  { name: 'slice', summary: 'offline CloudTrail slice of a folder of log files; prints matching events as JSON lines', load: async () => (await import('./slice.js')).sliceCommand },
  { name: 'bundle', summary: 'download a case as a verifiable zip or tar.gz (artifacts, manifests, custody, SHA256SUMS, public key, report)', load: async () => (await import('./bundle.js')).bundleCommand },
  { name: 'report', summary: 'write the case report (report.html: timeline, findings, custody, artifacts) without bundling', load: async () => (await import('./report.js')).reportCommand },
  { name: 'verify', summary: 'verify a bundle offline: hashes, SHA256SUMS, manifest signatures, custody chain, missing and unlisted files', load: async () => (await import('./verify.js')).verifyCommand },
  { name: 'drill', summary: 'run a forensics drill: locally on the emulator (default) or --deployed against the account', load: async () => (await import('./drill.js')).drillCommand },
  { name: 'cases', summary: 'list the cases in the evidence bucket (table on a terminal, JSON otherwise)', load: async () => (await import('./cases.js')).casesCommand },
  { name: 'contain', summary: 'plan (dry-run) or --apply containment of a captured bucket: quarantine it, revoke the principal, alert; --undo restores', load: async () => (await import('./contain.js')).containCommand },
  { name: 'custody', summary: 'show the custody timeline of a case and verify its chain', load: async () => (await import('./custody.js')).custodyCommand },
]
