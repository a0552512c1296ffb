// The layering the README draws, enforced on imports: entry (app, main, container) → gateway →
// gRPC → domains → infra. Domains and infra know no transport (src/grpc, src/gateway, gen/,
// @grpc/*); infra knows no domain; the gateway reaches the services only through the gRPC
// contract, never a domain directly. See docs/architecture.md.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** The domain folders under src/. */
const DOMAINS = ['users', 'rooms', 'admin', 'pagination', 'tasks', 'moderation', 'matrix'];
/** A relative import that climbs into one of `folders` (src/<folder> or the root's gen/). */
const into = (folders) => `^(\\.\\./)+(${folders.join('|')})(/|$)`;

const TRANSPORT = {
  regex: into(['grpc', 'gateway', 'gen']),
  message:
    'Domains and infra know no transport: no src/grpc, src/gateway or gen/ here (map to and from the contract in src/grpc/handlers).',
};
const GRPC_PACKAGES = { group: ['@grpc/*'], message: 'Domains and infra know no transport: gRPC belongs to src/grpc.' };
const COMPOSITION = {
  regex: into(['app', 'main', 'container', 'workers']),
  message: 'Only the entry points (app, main, workers) and the gRPC bindings use the composition root.',
};

/** no-restricted-imports with these patterns. */
const restrict = (...patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

export default tseslint.config(
  { ignores: ['gen/**', 'node_modules/**', 'dist/**', '.data/**'] },
  {
    files: ['**/*.ts', '**/*.mjs', '**/*.js'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    rules: {
      // Off because the code uses them on purpose: `any` in tests' loose fixtures, comma and `&&`
      // expressions that build SQL clauses, and NUL in the regular expressions that refuse it.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-expressions': 'off',
      'no-control-regex': 'off',
      // A leading underscore marks a name kept on purpose (a skipped argument, a dropped key).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', process: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: DOMAINS.map((d) => `src/${d}/**/*.ts`),
    rules: restrict(TRANSPORT, GRPC_PACKAGES, COMPOSITION),
  },
  {
    files: ['src/infra/**/*.ts'],
    rules: restrict(TRANSPORT, GRPC_PACKAGES, COMPOSITION, {
      regex: into(DOMAINS),
      message: 'Infra knows no domain: a domain uses infra, never the other way round.',
    }),
  },
  {
    // One door to SQL (src/infra/sql.ts): statements elsewhere go through sql/sqlCount/sqlPrepared,
    // which join the EntityManager's transaction; a raw execute on the connection would not.
    files: ['src/**/*.ts'],
    ignores: ['src/infra/sql.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name='execute'][callee.object.callee.property.name='getConnection']",
          message: 'Run SQL through src/infra/sql.ts (sql, sqlCount, sqlPrepared), not the connection.',
        },
        {
          selector: 'CallExpression[callee.property.name=/^(execute|raw)$/][callee.object.name=/^(em|tx|trx)$/]',
          message: 'Run SQL through src/infra/sql.ts (sql, sqlCount, sqlPrepared), not the EntityManager.',
        },
      ],
    },
  },
  {
    files: ['src/gateway/**/*.ts'],
    rules: restrict(COMPOSITION, {
      regex: into(DOMAINS.filter((d) => d !== 'matrix')),
      message: 'The gateway reaches the services only over gRPC: use the contract (gen/), src/matrix and src/errors, not a domain.',
    }),
  },
  {
    files: ['src/grpc/**/*.ts'],
    ignores: ['src/grpc/bindings.ts'],
    rules: restrict(COMPOSITION, { regex: into(['gateway']), message: 'The gRPC server knows nothing of the REST gateway.' }),
  },
);
