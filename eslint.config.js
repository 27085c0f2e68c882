import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/**', 'cdktf.out/**', '.venv/**', '.forensics/**', '.tap/**', 'dist/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', fetch: 'readonly', URL: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly' } },
    rules: {
      // The provider's root index costs ~5 s and ~500 MB per process: deep imports only
      // (e.g. '@cdktf/provider-aws/lib/s3-bucket/index.js').
      'no-restricted-imports': ['error', {
        paths: [
          { name: '@cdktf/provider-aws', message: 'Import the resource you need from @cdktf/provider-aws/lib/<resource>/index.js: the root index costs ~5 s and ~500 MB.' },
          { name: '@cdktf/provider-aws/lib/index.js', message: 'Deep imports only: @cdktf/provider-aws/lib/<resource>/index.js.' },
          { name: '@cdktf/provider-aws/lib', message: 'Deep imports only: @cdktf/provider-aws/lib/<resource>/index.js.' },
        ],
      }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
)
