import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { type WharfConfig } from '@wharf/config';
import { ExecutionRepository, ScheduleRepository } from '@wharf/db';
import { JobRunner } from '@wharf/jobs';
import { type Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { AuthGuard } from './auth/auth.guard.js';
import { CORE_CONFIG, CORE_SECRETS, DEFAULT_REDIS_PREFIX, REDIS, REDIS_PREFIX } from './constants.js';
import { CONTROLLERS } from './controllers/index.js';
import { REPOSITORIES } from './repositories/index.js';
import { TrivyScanner } from '@wharf/scanner';
import {
  BUILT_IN_SCANNER,
  type BuiltInScanner,
  TRIVY_SCANNER,
  TrivyBuiltInScanner,
  trivyScannerConfig,
} from './scanners/built-in-scanner.js';
import { type CoreSecrets } from './secrets.js';
import { SERVICES } from './services/index.js';

export interface AppDependencies {
  config: WharfConfig;
  dataSource: DataSource;
  redis: Redis;
  secrets: CoreSecrets;
  /** Enqueues jobs for jobservice (and stops them); it runs none itself. */
  jobs: JobRunner;
  /**
   * What the scanner registrations see of the scanner Wharf runs itself (default: the TrivyScanner of the `trivy:`
   * section, asked for its version). Scans always run that TrivyScanner.
   */
  builtInScanner?: BuiltInScanner;
  /** Prefix of the Redis keys; tests give each server its own. */
  redisPrefix?: string;
  /** Values other parts of the server provide to services (the registry's storage, …), by token. */
  extra?: { provide: symbol | string | (abstract new (...args: never[]) => unknown); useValue: unknown }[];
}

/** Core's values, repositories and services: what the API and the worker module share. */
export function coreProviders(deps: AppDependencies): Provider[] {
  return [
    { provide: CORE_CONFIG, useValue: deps.config },
    { provide: DataSource, useValue: deps.dataSource },
    { provide: REDIS, useValue: deps.redis },
    { provide: REDIS_PREFIX, useValue: deps.redisPrefix ?? DEFAULT_REDIS_PREFIX },
    { provide: CORE_SECRETS, useValue: deps.secrets },
    { provide: JobRunner, useValue: deps.jobs },
    {
      provide: TRIVY_SCANNER,
      useFactory: (config: WharfConfig) => new TrivyScanner(trivyScannerConfig(config.trivy)),
      inject: [CORE_CONFIG],
    },
    deps.builtInScanner
      ? { provide: BUILT_IN_SCANNER, useValue: deps.builtInScanner }
      : {
          provide: BUILT_IN_SCANNER,
          useFactory: (trivy: TrivyScanner) => new TrivyBuiltInScanner(trivy),
          inject: [TRIVY_SCANNER],
        },
    {
      provide: ExecutionRepository,
      useFactory: (dataSource: DataSource) => new ExecutionRepository(dataSource),
      inject: [DataSource],
    },
    {
      provide: ScheduleRepository,
      useFactory: (dataSource: DataSource) => new ScheduleRepository(dataSource),
      inject: [DataSource],
    },
    ...(deps.extra ?? []),
    ...REPOSITORIES,
    ...SERVICES,
  ];
}

@Module({})
export class AppModule {
  static create(deps: AppDependencies): DynamicModule {
    return {
      module: AppModule,
      controllers: CONTROLLERS,
      providers: [...coreProviders(deps), { provide: APP_GUARD, useClass: AuthGuard }],
    };
  }
}
