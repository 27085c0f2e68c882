import type { Command } from '../command.js'
import { bundleCommand } from './bundle.js'
import { verifyCommand } from './verify.js'
import { captureCloudTrailCommand } from './capture-cloudtrail.js'
import { sliceCommand } from './slice.js'
import { captureBucketConfigCommand } from './capture-bucket-config.js'
import { captureObjectVersionsCommand } from './capture-object-versions.js'
import { drillCommand } from './drill.js'
import { casesCommand } from './cases.js'
import { custodyCommand } from './custody.js'

/**
 * Every `forensics` command, in the order `--help` lists them. One file per command in
 * this folder; add yours here.
 */
export const commands: Command[] = [captureBucketConfigCommand, captureObjectVersionsCommand, captureCloudTrailCommand, sliceCommand, bundleCommand, verifyCommand, drillCommand, casesCommand, custodyCommand]
