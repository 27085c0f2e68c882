/**
 * `cdktf synth` entry (cdktf.json: `node --import ./scripts/ts-register.mjs stacks/main.ts`). A config error is
 * printed with the field it concerns and fails the synth with exit code 2.
 */
import { synthesizeForensicsApp } from './app.js'
import { ValidationError } from '../forensics/errors.js'

try {
  synthesizeForensicsApp()
} catch (e) {
  if (!(e instanceof ValidationError)) throw e
  process.stderr.write(`forensics: ${e.message}\n`)
  process.exitCode = 2
}
