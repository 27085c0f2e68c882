import t from 'tap'
import { ESLint } from 'eslint'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

t.test('lint forbids the provider root import and allows deep imports', async (t) => {
  const eslint = new ESLint({ cwd: root })
  const lint = async (code: string) => (await eslint.lintText(code, { filePath: `${root}stacks/lint-probe.ts` }))[0].messages
  for (const root of ["import { S3Bucket } from '@cdktf/provider-aws'", "import * as aws from '@cdktf/provider-aws/lib/index.js'", "import * as aws from '@cdktf/provider-aws/lib'"]) {
    const messages = await lint(`${root}\nexport const x = ${root.includes('S3Bucket') ? 'S3Bucket' : 'aws'}\n`)
    t.match(messages, [{ ruleId: 'no-restricted-imports', message: /Deep imports only|root index costs/ }], root)
  }
  t.same(await lint("import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket/index.js'\nexport const x = S3Bucket\n"), [], 'a deep import is fine')
})
