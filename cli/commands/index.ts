import type { Command } from '../command.js'

/**
 * Every `forensics` command, in the order `--help` lists them. One file per command in
 * this folder; add yours here.
 */
export const commands: Command[] = []
