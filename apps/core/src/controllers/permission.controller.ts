import { Controller, Get } from '@nestjs/common';
import { Auth } from '../auth/auth.decorator.js';
import { type RequestAuth } from '../auth/principal.js';
import { API_PREFIX } from '../constants.js';
import { PermissionsDto } from '../dtos/robot.dto.js';
import { Endpoint } from '../openapi/endpoint.decorator.js';
import { RobotService } from '../services/robot.service.js';

@Controller(API_PREFIX)
export class PermissionController {
  constructor(private readonly robots: RobotService) {}

  @Get('permissions')
  @Endpoint({
    operationId: 'getPermissions',
    summary: 'The system and project permissions a robot account may be given, for system and project administrators',
    tag: 'permissions',
    access: { kind: 'authenticated' },
    response: { description: 'The permissions robots may hold, by kind', schema: PermissionsDto },
  })
  get(@Auth() auth: RequestAuth): Promise<PermissionsDto> {
    return this.robots.permissionCatalog(auth.principal);
  }
}
