// ESLint for the browser code: ES modules, no build step (the console and the patient page).
import js from '@eslint/js';
import globals from 'globals';

export default [
  {
    ignores: ['node_modules/', '.venv/', 'build/', 'var/', '**/*.min.js', 'patient_page/static/dist/'],
  },
  js.configs.recommended,
  {
    files: ['integration/web/static/**/*.js', 'patient_page/static/**/*.js'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.browser },
    },
    rules: {
      eqeqeq: ['error', 'always'],
      'no-var': 'error',
      'prefer-const': 'error',
      'no-implicit-globals': 'error',
      'no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['tests/js/**/*.js', 'tests/js/**/*.mjs', 'eslint.config.js'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.node },
    },
  },
];
