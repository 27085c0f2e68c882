/**
 * worker_threads entry: scans log files for the ScanPool. Messages in: `start` (with a
 * file path, or `chunks` followed by `chunk`/`end` messages), out: `ack` per consumed
 * chunk (backpressure), `result` or `failed`. Runs the same `scanLogFile` as in-process
 * mode, so behaviour never depends on where a file was scanned.
 */
import { parentPort } from 'node:worker_threads'
import { handleScanMessages } from './scan-protocol.js'

/* c8 ignore next */
if (parentPort) handleScanMessages(parentPort)
