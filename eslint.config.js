import eslint from '@eslint/js'
import tseslint from 'typescript-eslint'
import prettier from 'eslint-config-prettier'

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'node_modules/', 'coverage/'] },
  eslint.configs.recommended,
  // Type-aware, as actions/typescript-action lints: the rules see what TypeScript knows.
  ...tseslint.configs.strictTypeChecked,
  prettier,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly' },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname }
    },
    rules: {
      'no-console': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // Counts, sizes and statuses in messages ("3 files", "HTTP 404") are numbers on purpose.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // `(x) => resolve(x)` and `return done()` from a void function are plain early exits.
      '@typescript-eslint/no-confusing-void-expression': [
        'error',
        { ignoreArrowShorthand: true, ignoreVoidReturningFunctions: true }
      ],
      // Without noUncheckedIndexedAccess, regex groups, header records and lookups type as
      // always present, and parsed JSON/YAML or thrown values can be anything: these two rules
      // would delete the runtime checks and String() calls that guard against exactly that.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/no-unnecessary-type-conversion': 'off',
      // `[...name]` walks a string by code point, which is what the name and glob checks want.
      '@typescript-eslint/no-misused-spread': [
        'error',
        { allow: [{ from: 'lib', name: 'string' }] }
      ]
    }
  },
  {
    // The config files themselves are plain JavaScript outside every tsconfig.
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked
  },
  {
    // The server's JSON is typed `any` on purpose (see `Json`) and checked field by field.
    files: ['src/downloads-api.ts', 'src/rest.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off'
    }
  },
  {
    // Handlers answer with `return answer.message(…)` as an early exit, async ones included;
    // policy errors echo a malformed value the way String() renders it, whatever its type.
    files: ['emulator/**'],
    rules: {
      '@typescript-eslint/no-confusing-void-expression': 'off',
      '@typescript-eslint/no-base-to-string': 'off'
    }
  },
  {
    // Fakes implement async interfaces with bodies that have nothing to await.
    files: ['__tests__/**'],
    rules: { '@typescript-eslint/require-await': 'off' }
  },
  {
    // The emulator, the demo and the benchmark are command-line programs of their own: they
    // print to the terminal, not to an Actions log.
    files: ['emulator/cli.ts', 'emulator/server-cli.ts', 'emulator/cli-options.ts', 'scripts/**'],
    rules: { 'no-console': 'off' }
  }
)
