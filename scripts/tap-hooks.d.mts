/** processinfo's `import.mjs` source with its version gate widened (scripts/tap-hooks.mjs). */
export function widenGate(source: string): { source: string; changed: boolean; reason?: string }
/** Widens the gate of the processinfo installed under `root`; returns what happened, in words. */
export function useInThreadTapHooks(root: string): string
