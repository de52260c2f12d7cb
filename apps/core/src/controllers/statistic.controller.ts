import { Controller, Get } from '@nestjs/common';
import { Auth } from '../auth/auth.decorator.js';
import { type RequestAuth } from '../auth/principal.js';
import { API_PREFIX } from '../constants.js';
import { StatisticDto } from '../dtos/statistic.dto.js';
import { Endpoint } from '../openapi/endpoint.decorator.js';
import { StatisticService } from '../services/statistic.service.js';

@Controller(API_PREFIX)
export class StatisticController {
  constructor(private readonly statistics: StatisticService) {}

  @Get('statistics')
  @Endpoint({
    operationId: 'getStatistic',
    summary: 'Counts of the projects and repositories the caller sees; totals and storage for system administrators',
    tag: 'statistic',
    access: { kind: 'authenticated' },
    response: { description: 'The counts', schema: StatisticDto },
  })
  get(@Auth() auth: RequestAuth): Promise<StatisticDto> {
    return this.statistics.get(auth.principal);
  }
}
