/** The TypeScript module (base64 WebAssembly) that scripts/build-wasm.mjs builds from forensics/cloudtrail/record-scan.wat. */
export function buildRecordScan(): Promise<string>
