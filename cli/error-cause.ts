/**
 * What lies behind an error a command prints: the innermost cause with its system code
 * (e.g. `connect ECONNREFUSED 127.0.0.1:4566`) and the endpoint the SDK was sent to, so
 * "Error after 6 attempts" never stands alone.
 */

interface Causal {
  name?: unknown
  message?: unknown
  code?: unknown
  cause?: unknown
  errors?: unknown
}

/** The chain of causes, outermost first (AggregateError members included; cycles stop it). */
function causes(err: unknown): Causal[] {
  const out: Causal[] = []
  const seen = new Set<unknown>()
  const walk = (e: unknown): void => {
    if (e === null || typeof e !== 'object' || seen.has(e) || out.length > 20) return
    seen.add(e)
    const c = e as Causal
    out.push(c)
    if (Array.isArray(c.errors)) for (const x of c.errors as unknown[]) walk(x)
    walk(c.cause)
  }
  walk(err)
  return out
}

/** The endpoint override the SDK uses for S3 (or any service), with the variable naming it. */
export function endpointOf(env: NodeJS.ProcessEnv): string | undefined {
  for (const name of ['AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL']) if (env[name]) return `${env[name]} (${name})`
  return undefined
}

/**
 * One line naming the cause behind `err`, or undefined when there is nothing beyond its
 * own message: the deepest cause carrying a system `code`, else the deepest cause whose
 * message says more than its name.
 */
export function describeCause(err: unknown, env: NodeJS.ProcessEnv): string | undefined {
  const chain = causes(err).slice(1)
  const coded = [...chain].reverse().find((c) => typeof c.code === 'string' && /^E[A-Z]+$/.test(c.code))
  if (coded) {
    const msg = typeof coded.message === 'string' && coded.message ? coded.message : String(coded.code)
    const at = endpointOf(env)
    return `cause: ${msg.includes(String(coded.code)) ? msg : `${String(coded.code)} ${msg}`}${at ? `; endpoint ${at}` : ''}`
  }
  const deepest = chain.at(-1)
  if (!deepest) return undefined
  const name = typeof deepest.name === 'string' ? deepest.name : 'Error'
  const message = typeof deepest.message === 'string' ? deepest.message : ''
  return message && message !== name ? `cause: ${name}: ${message}` : undefined
}
