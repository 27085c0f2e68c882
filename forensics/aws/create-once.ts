/**
 * Create calls that survive their own retry. When a create's response is lost after the
 * resource was made (a dropped connection, a 500 after the effect), the SDK sends the call
 * again and AWS answers that the resource already exists. For the caller that is success:
 * the resource is there, and it is the caller's. Only the errors that say "it exists and it
 * is yours" count; "the name belongs to someone else" (`BucketAlreadyExists`) stays an error.
 */

/** Error names that mean the resource exists and belongs to the caller. */
export const ALREADY_YOURS = new Set(['BucketAlreadyOwnedByYou', 'ResourceAlreadyExistsException', 'AlreadyExistsException'])

/** Runs `create`; an {@link ALREADY_YOURS} error resolves to `undefined` instead of throwing. */
export async function createOnce<T>(create: () => Promise<T>): Promise<T | undefined> {
  try {
    return await create()
  } catch (e) {
    if (ALREADY_YOURS.has((e as Error).name)) return undefined
    throw e
  }
}
