import { Inject, Injectable } from '@nestjs/common';
import { RegistryRepository } from '@wharf/db';
import { type JobContext, JobName, type JobPayload, OnJob } from '@wharf/jobs';
import { purgeUploads } from '@wharf/registry';
import { type StorageDriver } from '@wharf/storage';
import { DataSource } from 'typeorm';
import { STORAGE } from '../constants.js';

/** Removes abandoned uploads (`upload_purging`) as a job of jobservice, each run recorded with what it removed. */
@Injectable()
export class UploadPurgeService {
  private readonly registry: RegistryRepository;

  constructor(
    dataSource: DataSource,
    @Inject(STORAGE) private readonly storage: StorageDriver,
  ) {
    this.registry = new RegistryRepository(dataSource);
  }

  @OnJob(JobName.UploadPurge)
  async purge({ ageMs, dryRun }: JobPayload<JobName.UploadPurge>, { log }: JobContext): Promise<void> {
    const result = await purgeUploads(this.registry, this.storage, { ageMs, dryRun });
    const verb = dryRun ? 'would remove' : 'removed';
    await log(
      `${verb} ${result.sessions.length} abandoned upload sessions and ${result.orphans.length} uploads with no session`,
    );
  }
}
