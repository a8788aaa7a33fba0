/**
 * Projects: `unit` (mocked clients, no network), `templates`, `integration` (moto server on
 * 127.0.0.1, started by each test file) and `chaos` (live traffic and the fault matrix on
 * moto; `npm run chaos` runs it and prints the table) and `deployed` (`npm run test:deployed`). ts-jest compiles to CommonJS for jest;
 * type checking is `npm run typecheck`'s job, so tests compile in isolation (fast).
 */
const transform = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
};
const moduleNameMapper = { '^@keyrot/shared$': '<rootDir>/shared/src/index.ts' };

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    {
      displayName: 'unit',
      transform,
      moduleNameMapper,
      testEnvironment: 'node',
      testMatch: [
        '<rootDir>/shared/test/**/*.test.ts',
        '<rootDir>/services/*/test/**/*.test.ts',
        '<rootDir>/harness/test/**/*.test.ts',
        '<rootDir>/cli/test/**/*.test.ts',
      ],
    },
    {
      // Reads what `npm run package` writes: the CloudFormation templates in dist/templates
      // and the functions' zips (services/*/.serverless), whose bundles it runs.
      displayName: 'templates',
      transform,
      moduleNameMapper,
      testEnvironment: 'node',
      testMatch: ['<rootDir>/test/templates/**/*.test.ts'],
    },
    {
      displayName: 'integration',
      transform,
      moduleNameMapper,
      testEnvironment: 'node',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      slowTestThreshold: 30,
    },
    {
      // Live traffic through rotations and the fault matrix (`npm run chaos` prints the table).
      displayName: 'chaos',
      transform,
      moduleNameMapper,
      testEnvironment: 'node',
      testMatch: ['<rootDir>/test/chaos/**/*.test.ts'],
      slowTestThreshold: 60,
    },
    {
      // The stacks as users deploy them: `serverless deploy` onto moto, then the packaged
      // functions run from their zips with their deployed environment and roles.
      displayName: 'deployed',
      transform,
      moduleNameMapper,
      testEnvironment: 'node',
      testMatch: ['<rootDir>/test/deployed/**/*.test.ts'],
      slowTestThreshold: 120,
    },
  ],
};
