import { Controller, Delete, Get, Post, Put } from '@nestjs/common';
import { CurrentProject } from '../auth/auth.decorator.js';
import { type ProjectRef } from '../auth/principal.js';
import { API_PREFIX } from '../constants.js';
import {
  ImmutableRuleDto,
  ImmutableRuleListDto,
  ImmutableRuleListQuery,
  ImmutableRuleParamsDto,
} from '../dtos/immutable-rule.dto.js';
import { ProjectParamsDto } from '../dtos/project.dto.js';
import { type Paged, type WithHeaders } from '../http/responses.js';
import { Body, Endpoint, Params, Query } from '../openapi/endpoint.decorator.js';
import { ImmutableRuleService } from '../services/immutable-rule.service.js';

const PROJECT_PARAM = 'project_name_or_id';
const RULES = 'projects/:project_name_or_id/immutabletagrules';
const IS_RESOURCE_NAME = {
  'X-Is-Resource-Name': 'true: project_name_or_id is a name even when it consists of digits only',
};

/** Harbor's tag immutability rules of a project: tags they select are never overwritten nor deleted. */
@Controller(API_PREFIX)
export class ImmutableRuleController {
  constructor(private readonly rules: ImmutableRuleService) {}

  @Get(RULES)
  @Endpoint({
    operationId: 'ListImmuRules',
    summary: 'Lists the immutable tag rules of a project, in the order they were created',
    tag: 'immutable',
    access: { kind: 'project', resource: 'immutable-tag', action: 'list', param: PROJECT_PARAM },
    params: ProjectParamsDto,
    query: ImmutableRuleListQuery,
    headers: IS_RESOURCE_NAME,
    response: { description: 'One page of rules', schema: ImmutableRuleListDto, headers: ['X-Total-Count', 'Link'] },
    errors: [400, 404],
  })
  list(
    @CurrentProject() project: ProjectRef,
    @Query() query: ImmutableRuleListQuery,
  ): Promise<Paged<ImmutableRuleDto>> {
    return this.rules.list(project, query);
  }

  @Post(RULES)
  @Endpoint({
    operationId: 'CreateImmuRule',
    summary:
      'Adds an immutable tag rule, enabled: one doublestar tag selector (matches, excludes) and one repository ' +
      'selector (repoMatches, repoExcludes); the same selectors twice are refused (409), and more than 15 rules (400)',
    tag: 'immutable',
    access: { kind: 'project', resource: 'immutable-tag', action: 'create', param: PROJECT_PARAM },
    params: ProjectParamsDto,
    headers: IS_RESOURCE_NAME,
    body: ImmutableRuleDto,
    status: 201,
    response: { description: 'The rule was added', headers: ['Location'] },
    errors: [400, 404, 409],
  })
  create(
    @CurrentProject() project: ProjectRef,
    @Params() params: ProjectParamsDto,
    @Body() body: ImmutableRuleDto,
  ): Promise<WithHeaders<undefined>> {
    return this.rules.create(project, params.project_name_or_id, body);
  }

  @Put(`${RULES}/:immutable_rule_id`)
  @Endpoint({
    operationId: 'UpdateImmuRule',
    summary:
      'Changes an immutable tag rule, or enables or disables it: a body whose disabled differs from the rule ' +
      'changes only that',
    tag: 'immutable',
    access: { kind: 'project', resource: 'immutable-tag', action: 'update', param: PROJECT_PARAM },
    params: ImmutableRuleParamsDto,
    headers: IS_RESOURCE_NAME,
    body: ImmutableRuleDto,
    response: { description: 'The rule was changed' },
    errors: [400, 404, 409],
  })
  update(
    @CurrentProject() project: ProjectRef,
    @Params() params: ImmutableRuleParamsDto,
    @Body() body: ImmutableRuleDto,
  ): Promise<void> {
    return this.rules.update(project, params.immutable_rule_id, body);
  }

  @Delete(`${RULES}/:immutable_rule_id`)
  @Endpoint({
    operationId: 'DeleteImmuRule',
    summary: 'Deletes an immutable tag rule',
    tag: 'immutable',
    access: { kind: 'project', resource: 'immutable-tag', action: 'delete', param: PROJECT_PARAM },
    params: ImmutableRuleParamsDto,
    headers: IS_RESOURCE_NAME,
    response: { description: 'The rule was deleted' },
    errors: [400, 404],
  })
  delete(@CurrentProject() project: ProjectRef, @Params() params: ImmutableRuleParamsDto): Promise<void> {
    return this.rules.delete(project, params.immutable_rule_id);
  }
}
