/**
 * worker_threads entry of the YARA scanner: compiles the rules it is sent and scans the
 * buffers it is sent (see scan-protocol.ts). Bundled for Lambda as `inspection-worker.mjs`
 * next to the handler and the `.wasm`.
 */
import { parentPort } from 'node:worker_threads'
import { serveScans } from './scan-protocol.js'

/* c8 ignore next */
if (parentPort) serveScans(parentPort)
