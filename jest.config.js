// Jest runs the TypeScript sources directly (ESM, SWC with decorator metadata); workspace packages
// resolve to their src so tests never depend on a stale build.
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2023',
    },
    module: { type: 'es6' },
  },
];

const base = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: {
    '^@wharf/registry-app$': '<rootDir>/apps/registry/src/index.ts',
    '^@wharf/core$': '<rootDir>/apps/core/src/index.ts',
    '^@wharf/jobservice$': '<rootDir>/apps/jobservice/src/index.ts',
    '^@wharf/storage/s3$': '<rootDir>/packages/storage/src/s3.driver.ts',
    '^@wharf/(oci|storage|config|db|registry|testkit|auth|jobs|api-client|scanner)$':
      '<rootDir>/packages/$1/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testEnvironment: 'node',
  modulePathIgnorePatterns: ['<rootDir>/.*/dist/'],
};

export default {
  projects: [
    {
      ...base,
      displayName: 'unit',
      testMatch: ['<rootDir>/{packages,apps}/*/src/**/*.spec.ts', '<rootDir>/bench/src/**/*.spec.ts'],
    },
    {
      ...base,
      displayName: 'integration',
      testMatch: ['<rootDir>/{packages,apps}/*/src/**/*.int-spec.ts'],
      // Real servers, databases and storage: on a busy 2-core machine a step takes seconds, not milliseconds.
      setupFilesAfterEnv: ['<rootDir>/jest.integration-setup.js'],
    },
    { ...base, displayName: 'e2e', testMatch: ['<rootDir>/e2e/src/**/*.e2e-spec.ts'] },
  ],
};
