import { Controller, Get, Put } from '@nestjs/common';
import { Auth } from '../auth/auth.decorator.js';
import { type RequestAuth } from '../auth/principal.js';
import { API_PREFIX } from '../constants.js';
import { ConfigurationsDto, ConfigurationsResponseDto } from '../dtos/configuration.dto.js';
import { Body, Endpoint } from '../openapi/endpoint.decorator.js';
import { ConfigurationService } from '../services/configuration.service.js';

@Controller(API_PREFIX)
export class ConfigurationController {
  constructor(private readonly configurations: ConfigurationService) {}

  @Get('configurations')
  @Endpoint({
    operationId: 'getConfigurations',
    summary: 'The system settings, each with whether it can be changed',
    tag: 'configure',
    access: { kind: 'sysadmin' },
    response: { description: 'The system settings', schema: ConfigurationsResponseDto },
  })
  get(): Promise<ConfigurationsResponseDto> {
    return this.configurations.get();
  }

  @Put('configurations')
  @Endpoint({
    operationId: 'updateConfigurations',
    summary: 'Changes some system settings; unknown and read-only settings are refused by name',
    tag: 'configure',
    access: { kind: 'sysadmin' },
    body: ConfigurationsDto,
    response: { description: 'The settings were changed' },
    errors: [400],
  })
  update(@Auth() auth: RequestAuth, @Body() body: ConfigurationsDto): Promise<void> {
    return this.configurations.update(auth, body);
  }
}
