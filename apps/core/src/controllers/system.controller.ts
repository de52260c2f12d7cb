import { Controller, Get } from '@nestjs/common';
import { z } from 'zod';
import { Auth } from '../auth/auth.decorator.js';
import { type RequestAuth } from '../auth/principal.js';
import { API_PREFIX } from '../constants.js';
import { GeneralInfoDto, OverallHealthDto } from '../dtos/system.dto.js';
import { WithHeaders } from '../http/responses.js';
import { Endpoint } from '../openapi/endpoint.decorator.js';
import { SystemService } from '../services/system.service.js';

@Controller(API_PREFIX)
export class SystemController {
  constructor(private readonly system: SystemService) {}

  @Get('ping')
  @Endpoint({
    operationId: 'getPing',
    summary: 'Answers Pong when the API is up',
    tag: 'ping',
    access: { kind: 'anyone' },
    response: { description: 'The API is up', schema: z.literal('Pong') },
  })
  ping(): string {
    return 'Pong';
  }

  @Get('health')
  @Endpoint({
    operationId: 'getHealth',
    summary: 'The status of each component: core, database, redis and registry storage',
    tag: 'health',
    access: { kind: 'anyone' },
    response: { description: 'The health of the components', schema: OverallHealthDto },
  })
  health(): Promise<OverallHealthDto> {
    return this.system.health();
  }

  @Get('systeminfo')
  @Endpoint({
    operationId: 'getSystemInfo',
    summary: 'General settings of this Wharf; anonymous callers see a reduced set',
    tag: 'systeminfo',
    access: { kind: 'anyone' },
    response: { description: 'General information', schema: GeneralInfoDto },
  })
  info(@Auth() auth: RequestAuth): Promise<GeneralInfoDto> {
    return this.system.info(auth.principal);
  }

  @Get('systeminfo/getcert')
  @Endpoint({
    operationId: 'getCert',
    summary: "The CA certificate of Wharf's HTTPS certificate, as the file ca.crt, for clients to trust",
    tag: 'systeminfo',
    access: { kind: 'anyone' },
    response: {
      description: 'The CA certificate (PEM)',
      schema: z.string().meta({ format: 'binary' }),
      mediaType: 'application/octet-stream',
      headers: ['Content-Disposition'],
    },
    errors: [404],
  })
  getCert(): WithHeaders<string> {
    return new WithHeaders(this.system.caCertificate(), {
      'Content-Type': 'application/octet-stream',
      'Content-Disposition': 'attachment; filename="ca.crt"',
    });
  }
}
