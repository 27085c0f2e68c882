/**
 * Domain errors. Each names what happened, to which resource, and what to do next; the
 * CLI maps them to exit codes (DESIGN.md "Command line").
 */

/** Base class: every error the toolkit raises on purpose. */
export class ForensicsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ForensicsError'
  }
}

/** Bad input: an event, a config value, a case id, a flag. Permanent; exit code 2. */
export class ValidationError extends ForensicsError {
  /** The field or argument that is wrong, when there is one. */
  readonly field?: string
  constructor(message: string, options?: { cause?: unknown; field?: string }) {
    super(message, options)
    this.name = 'ValidationError'
    this.field = options?.field
  }
}

/** Evidence does not verify (hash, chain, signature, retention). Exit code 1. */
export class IntegrityError extends ForensicsError {
  /** What failed, one line each, each naming the object. */
  readonly findings: readonly string[]
  constructor(message: string, options?: { cause?: unknown; findings?: readonly string[] }) {
    super(message, options)
    this.name = 'IntegrityError'
    this.findings = options?.findings ?? [message]
  }
}

/** An AWS call or local I/O failed after retries. Exit code 3. */
export class StorageError extends ForensicsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StorageError'
  }
}
