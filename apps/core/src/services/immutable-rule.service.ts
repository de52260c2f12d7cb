import { Injectable } from '@nestjs/common';
import { parsePagination, parseQuery, parseSort } from '@wharf/db';
import { DataSource } from 'typeorm';
import { type ProjectRef } from '../auth/principal.js';
import { type ImmutableRuleDto, type ImmutableRuleListQuery } from '../dtos/immutable-rule.dto.js';
import { ApiError } from '../errors/api-error.js';
import { Paged, type WithHeaders, created } from '../http/responses.js';
import { ImmutabilityRules } from '../policy/immutability.js';
import { type Selector, SelectorPatternError, validateSelectors } from '../policy/selector.js';
import {
  DuplicateRuleError,
  type ImmutableRuleFields,
  type ImmutableRuleRecord,
  ImmutableRuleRepository,
} from '../repositories/immutable-rule.repository.js';

/** Harbor's only action and template of an immutability rule. */
const ACTION = 'immutable';
const TEMPLATE = 'immutable_template';
/** Rules per project at most, as Harbor's portal allows: every push by tag is matched against them. */
export const MAX_RULES_PER_PROJECT = 15;

const TAG_DECORATIONS = ['matches', 'excludes'];
const REPOSITORY_DECORATIONS = ['repoMatches', 'repoExcludes'];

function toDto(record: ImmutableRuleRecord): ImmutableRuleDto {
  return {
    id: record.id,
    priority: record.priority,
    disabled: record.disabled,
    action: ACTION,
    template: TEMPLATE,
    tag_selectors: record.tagSelectors,
    scope_selectors: record.scopeSelectors,
  };
}

function selectorOf(
  where: string,
  given: NonNullable<ImmutableRuleDto['tag_selectors']> | undefined,
  decorations: string[],
): Selector {
  if (!given || given.length !== 1) throw ApiError.badRequest(`${where}: give exactly one selector`);
  const [{ kind, decoration, pattern }] = given;
  if (kind !== 'doublestar') throw ApiError.badRequest(`${where}[0].kind: must be doublestar`);
  if (!decorations.includes(decoration)) {
    throw ApiError.badRequest(`${where}[0].decoration: must be ${decorations.join(' or ')}`);
  }
  const selector: Selector = { kind, decoration: decoration as Selector['decoration'], pattern };
  try {
    validateSelectors([selector]);
  } catch (error) {
    if (error instanceof SelectorPatternError) throw ApiError.badRequest(`${where}[0].pattern: ${error.message}`);
    throw error;
  }
  return selector;
}

/** What a rule of the request says, once it is one Harbor's matcher can apply; 400 otherwise. */
function fieldsOf(body: ImmutableRuleDto): ImmutableRuleFields {
  if (body.action !== undefined && body.action !== ACTION) throw ApiError.badRequest(`action: must be ${ACTION}`);
  if (body.template !== undefined && body.template !== TEMPLATE) {
    throw ApiError.badRequest(`template: must be ${TEMPLATE}`);
  }
  const scopes = body.scope_selectors ?? {};
  const other = Object.keys(scopes).find((scope) => scope !== 'repository');
  if (other !== undefined) throw ApiError.badRequest(`scope_selectors.${other}: only repository selectors are known`);
  return {
    priority: body.priority ?? 0,
    tagSelectors: [selectorOf('tag_selectors', body.tag_selectors, TAG_DECORATIONS)],
    scopeSelectors: {
      repository: [selectorOf('scope_selectors.repository', scopes.repository, REPOSITORY_DECORATIONS)],
    },
  };
}

function duplicate(error: unknown): unknown {
  return error instanceof DuplicateRuleError ? ApiError.conflict(error.message) : error;
}

/** Harbor's tag immutability rules of a project. */
@Injectable()
export class ImmutableRuleService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly rules: ImmutableRuleRepository,
    private readonly immutability: ImmutabilityRules,
  ) {}

  async list(project: ProjectRef, query: ImmutableRuleListQuery): Promise<Paged<ImmutableRuleDto>> {
    if (parseQuery(query.q).length > 0 || parseSort(query.sort).length > 0) {
      throw ApiError.badRequest(
        'immutable tag rules are listed in the order they were created: q and sort take nothing',
      );
    }
    const page = parsePagination(query.page, query.page_size);
    const { items, total } = await this.rules.list(project.projectId, page);
    return new Paged(items.map(toDto), total, page.page, page.pageSize);
  }

  /** Adds a rule, enabled as Harbor adds every rule; the Location repeats the project as the caller named it. */
  async create(project: ProjectRef, projectNameOrId: string, body: ImmutableRuleDto): Promise<WithHeaders<undefined>> {
    const fields = fieldsOf(body);
    const id = await this.rules.insert(project.projectId, fields, MAX_RULES_PER_PROJECT).catch((error: unknown) => {
      throw duplicate(error);
    });
    if (id === undefined) {
      throw ApiError.badRequest(`project ${project.name} holds ${MAX_RULES_PER_PROJECT} immutable tag rules already`);
    }
    this.immutability.forget();
    return created(`/api/v2.0/projects/${encodeURIComponent(projectNameOrId)}/immutabletagrules/${id}`);
  }

  /**
   * Changes a rule as Harbor does: a request that enables or disables it changes only that; any other changes what
   * the rule says. The id in the body must be the rule's.
   */
  async update(project: ProjectRef, id: number, body: ImmutableRuleDto): Promise<void> {
    if (body.id !== id) {
      throw ApiError.badRequest("the immutable_rule_id doesn't match the id in the payload body of ImmutableRule");
    }
    await this.dataSource
      .transaction(async (m) => {
        const rule = await this.rules.findForUpdate(m, project.projectId, id);
        if (!rule) throw ApiError.notFound(`immutable tag rule ${id} not found in project ${project.name}`);
        const disabled = body.disabled ?? false;
        if (disabled !== rule.disabled) await this.rules.setDisabled(m, id, disabled);
        else await this.rules.update(m, id, fieldsOf(body));
      })
      .catch((error: unknown) => {
        throw duplicate(error);
      });
    this.immutability.forget();
  }

  async delete(project: ProjectRef, id: number): Promise<void> {
    if (!(await this.rules.delete(project.projectId, id))) {
      throw ApiError.notFound(`immutable tag rule ${id} not found in project ${project.name}`);
    }
    this.immutability.forget();
  }
}
