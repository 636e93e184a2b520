// ESLint flat config: @eslint/js and typescript-eslint's recommended rules on the TypeScript sources.
// Rules turned off or adjusted are the ones that fight a deliberate style of this codebase; each says why.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      '.cache/',
      'reports/',
      'kernels/build/',
      // AssemblyScript, not TypeScript: its decorators and builtins (load<T>, v128) are not lintable as TS.
      'kernels/assembly/',
      'examples/**/build/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      // Node's globals, for the plain JavaScript files (TypeScript files are checked by the compiler, which knows them).
      globals: Object.fromEntries(
        ['process', 'console', 'Buffer', 'URL', 'performance', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'TextEncoder', 'TextDecoder'].map(
          (g) => [g, 'readonly'],
        ),
      ),
    },
    rules: {
      // Unused names are errors, but a leading underscore marks a deliberately unused parameter or binding.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // `x!` after a check the compiler cannot follow (noUncheckedIndexedAccess on typed arrays in kernels and statistics) is deliberate.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Control characters in regular expressions are deliberate: they neutralise terminal escapes in names from devices.
      'no-control-regex': 'off',
      // A variable given a fallback value before a try whose body replaces it (let out = '?'; try { out = ... }) is deliberate.
      'no-useless-assignment': 'off',
      // Empty catch blocks carry a comment saying why the error is ignored (e.g. "the original error matters more").
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
);
