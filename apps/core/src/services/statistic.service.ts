import { Injectable } from '@nestjs/common';
import { type Principal } from '../auth/principal.js';
import { type StatisticDto } from '../dtos/statistic.dto.js';
import { StatisticRepository } from '../repositories/statistic.repository.js';
import { projectVisibility } from './search.service.js';

@Injectable()
export class StatisticService {
  constructor(private readonly statistics: StatisticRepository) {}

  /**
   * Counts of the projects and repositories the caller sees: every public one, and the private ones they may see.
   * Totals and storage are a system administrator's, as in Harbor; others see zero there.
   */
  async get(principal: Principal): Promise<StatisticDto> {
    const sysadmin = principal.kind === 'user' && principal.sysadmin;
    const [counts, storage] = await Promise.all([
      this.statistics.projectCounts(projectVisibility(principal)),
      sysadmin ? this.statistics.storageConsumption() : Promise.resolve(0),
    ]);
    return {
      private_project_count: counts.privateProjects,
      private_repo_count: counts.privateRepositories,
      public_project_count: counts.publicProjects,
      public_repo_count: counts.publicRepositories,
      total_project_count: sysadmin ? counts.publicProjects + counts.privateProjects : 0,
      total_repo_count: sysadmin ? counts.publicRepositories + counts.privateRepositories : 0,
      total_storage_consumption: storage,
    };
  }
}
