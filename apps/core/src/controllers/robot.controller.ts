import { Controller, Delete, Get, Patch, Post, Put } from '@nestjs/common';
import { Auth } from '../auth/auth.decorator.js';
import { type RequestAuth } from '../auth/principal.js';
import { API_PREFIX } from '../constants.js';
import {
  RobotCreateDto,
  RobotCreatedDto,
  RobotDto,
  RobotIdParams,
  RobotListDto,
  RobotListQuery,
  RobotSecDto,
  RobotSecretDto,
  RobotUpdateDto,
} from '../dtos/robot.dto.js';
import { type Paged, type WithHeaders } from '../http/responses.js';
import { Body, Endpoint, Params, Query } from '../openapi/endpoint.decorator.js';
import { RobotService } from '../services/robot.service.js';

/**
 * Robot accounts, Harbor's API v2. Every route is open to any authenticated caller at the door: whether they may
 * act depends on the robot's level and project, which the service checks once it knows them.
 */
@Controller(API_PREFIX)
export class RobotController {
  constructor(private readonly robots: RobotService) {}

  @Get('robots')
  @Endpoint({
    operationId: 'ListRobot',
    summary: 'Lists system robots, or with q=Level=project,ProjectID=<id> the robots of a project',
    tag: 'robot',
    access: { kind: 'authenticated' },
    query: RobotListQuery,
    response: { description: 'One page of robot accounts', schema: RobotListDto, headers: ['X-Total-Count', 'Link'] },
    errors: [400, 404],
  })
  list(@Auth() auth: RequestAuth, @Query() query: RobotListQuery): Promise<Paged<RobotDto>> {
    return this.robots.list(auth.principal, query);
  }

  @Post('robots')
  @Endpoint({
    operationId: 'CreateRobot',
    summary: 'Creates a system or project robot account; its secret is answered only here',
    tag: 'robot',
    access: { kind: 'authenticated' },
    body: RobotCreateDto,
    status: 201,
    response: { description: 'The robot account and its secret', schema: RobotCreatedDto, headers: ['Location'] },
    errors: [400, 404, 409],
  })
  create(@Auth() auth: RequestAuth, @Body() body: RobotCreateDto): Promise<WithHeaders<RobotCreatedDto>> {
    return this.robots.create(auth.principal, body);
  }

  @Get('robots/:robot_id')
  @Endpoint({
    operationId: 'GetRobotByID',
    summary: 'One robot account with its permissions, never its secret',
    tag: 'robot',
    access: { kind: 'authenticated' },
    params: RobotIdParams,
    response: { description: 'The robot account', schema: RobotDto },
    errors: [400, 404],
  })
  get(@Auth() auth: RequestAuth, @Params() params: RobotIdParams): Promise<RobotDto> {
    return this.robots.get(auth.principal, params.robot_id);
  }

  @Put('robots/:robot_id')
  @Endpoint({
    operationId: 'UpdateRobot',
    summary: "Replaces a robot account's description, disable flag, duration and permissions",
    tag: 'robot',
    access: { kind: 'authenticated' },
    params: RobotIdParams,
    body: RobotUpdateDto,
    response: { description: 'The robot account was updated' },
    errors: [400, 404, 409],
  })
  update(@Auth() auth: RequestAuth, @Params() params: RobotIdParams, @Body() body: RobotUpdateDto): Promise<void> {
    return this.robots.update(auth.principal, params.robot_id, body);
  }

  @Patch('robots/:robot_id')
  @Endpoint({
    operationId: 'RefreshSec',
    summary: "Replaces a robot account's secret with the one given, or with a generated one that is answered",
    tag: 'robot',
    access: { kind: 'authenticated' },
    params: RobotIdParams,
    body: RobotSecretDto,
    response: { description: 'The generated secret (empty when the caller chose it)', schema: RobotSecDto },
    errors: [400, 404],
  })
  refreshSecret(
    @Auth() auth: RequestAuth,
    @Params() params: RobotIdParams,
    @Body() body: RobotSecretDto,
  ): Promise<RobotSecDto> {
    return this.robots.refreshSecret(auth.principal, params.robot_id, body);
  }

  @Delete('robots/:robot_id')
  @Endpoint({
    operationId: 'DeleteRobot',
    summary: 'Deletes a robot account; its secret stops working at once',
    tag: 'robot',
    access: { kind: 'authenticated' },
    params: RobotIdParams,
    response: { description: 'The robot account was deleted' },
    errors: [400, 404],
  })
  delete(@Auth() auth: RequestAuth, @Params() params: RobotIdParams): Promise<void> {
    return this.robots.delete(auth.principal, params.robot_id);
  }
}
