import { Controller, Delete, Get, Post } from '@nestjs/common';
import { z } from 'zod';
import { Auth, CurrentProject } from '../auth/auth.decorator.js';
import { type ProjectRef, type RequestAuth } from '../auth/principal.js';
import { API_PREFIX } from '../constants.js';
import {
  AccessoryDto,
  AccessoryListDto,
  AdditionParams,
  ArtifactDto,
  ArtifactGetQuery,
  ArtifactListDto,
  ArtifactListQuery,
  ArtifactParams,
  CopyArtifactQuery,
} from '../dtos/artifact.dto.js';
import { ListQuery, RepositoryParams } from '../dtos/repository.dto.js';
import { VulnerabilitiesAdditionDto } from '../dtos/scan.dto.js';
import { type Paged, type WithHeaders } from '../http/responses.js';
import { Endpoint, Params, Query } from '../openapi/endpoint.decorator.js';
import { ArtifactService } from '../services/artifact.service.js';

const PAGE_HEADERS = ['X-Total-Count', 'Link'];
const ARTIFACTS = 'projects/:project_name/repositories/:repository_name/artifacts';

/** Harbor's artifacts: the manifests of a repository (images, indexes, charts, …) with their tags. */
@Controller(API_PREFIX)
export class ArtifactController {
  constructor(private readonly artifacts: ArtifactService) {}

  @Get(ARTIFACTS)
  @Endpoint({
    operationId: 'listArtifacts',
    summary:
      'Lists the top-level artifacts of a repository, newest push first; q takes tags=* (tagged), tags=nil ' +
      '(untagged), tags=v, tags=~v, digest, media_type, type, push_time ranges and base=* (children and accessories too)',
    tag: 'artifact',
    access: { kind: 'project', resource: 'artifact', action: 'list', param: 'project_name' },
    params: RepositoryParams,
    query: ArtifactListQuery,
    response: { description: 'One page of artifacts', schema: ArtifactListDto, headers: PAGE_HEADERS },
    errors: [400, 404],
  })
  list(
    @CurrentProject() project: ProjectRef,
    @Params() params: RepositoryParams,
    @Query() query: ArtifactListQuery,
  ): Promise<Paged<ArtifactDto>> {
    return this.artifacts.list(project, params, query);
  }

  @Post(ARTIFACTS)
  @Endpoint({
    operationId: 'CopyArtifact',
    summary:
      'Copies an artifact (with the children of an index, its accessories and its tags) from another repository, ' +
      'given as from=<project>/<repository>:<tag> or @<digest>, without pulling it; needs artifact read on the ' +
      "source; the target's storage limit (403) and immutable tags (412) apply",
    tag: 'artifact',
    access: { kind: 'project', resource: 'artifact', action: 'create', param: 'project_name' },
    params: RepositoryParams,
    query: CopyArtifactQuery,
    status: 201,
    response: { description: 'The artifact was copied', headers: ['Location'] },
    errors: [400, 403, 404, 412],
  })
  copy(
    @Auth() auth: RequestAuth,
    @CurrentProject() project: ProjectRef,
    @Params() params: RepositoryParams,
    @Query() query: CopyArtifactQuery,
  ): Promise<WithHeaders<undefined>> {
    return this.artifacts.copy(auth, project, params, query);
  }

  @Get(`${ARTIFACTS}/:reference`)
  @Endpoint({
    operationId: 'getArtifact',
    summary:
      'One artifact by digest or tag, with its build facts (extra_attrs) read from its config; with_accessory adds ' +
      'its accessories, with_inherited_accessory the signatures of the indexes that list it',
    tag: 'artifact',
    access: { kind: 'project', resource: 'artifact', action: 'read', param: 'project_name' },
    params: ArtifactParams,
    query: ArtifactGetQuery,
    response: { description: 'The artifact', schema: ArtifactDto },
    errors: [400, 404],
  })
  get(
    @CurrentProject() project: ProjectRef,
    @Params() params: ArtifactParams,
    @Query() query: ArtifactGetQuery,
  ): Promise<ArtifactDto> {
    return this.artifacts.get(project, params, query);
  }

  @Delete(`${ARTIFACTS}/:reference`)
  @Endpoint({
    operationId: 'deleteArtifact',
    summary:
      'Deletes an artifact with its tags and accessories, and the children of an index that nothing else holds; ' +
      'an artifact an index lists is refused (412)',
    tag: 'artifact',
    access: { kind: 'project', resource: 'artifact', action: 'delete', param: 'project_name' },
    params: ArtifactParams,
    response: { description: 'The artifact was deleted' },
    errors: [400, 404, 412],
  })
  delete(
    @Auth() auth: RequestAuth,
    @CurrentProject() project: ProjectRef,
    @Params() params: ArtifactParams,
  ): Promise<void> {
    return this.artifacts.delete(auth, project, params);
  }

  @Get(`${ARTIFACTS}/:reference/accessories`)
  @Endpoint({
    operationId: 'listAccessories',
    summary:
      'Lists the accessories of an artifact, oldest first: manifests attached to it by their subject field or by ' +
      "cosign's sha256-<hex>.sig/.att/.sbom tag; q takes type (signature.cosign, signature.notation, sbom.harbor, " +
      'accelerator.nydus, subject.accessory), digest and creation_time ranges',
    tag: 'artifact',
    access: { kind: 'project', resource: 'accessory', action: 'list', param: 'project_name' },
    params: ArtifactParams,
    query: ListQuery,
    response: { description: 'One page of accessories', schema: AccessoryListDto, headers: PAGE_HEADERS },
    errors: [400, 404],
  })
  listAccessories(
    @CurrentProject() project: ProjectRef,
    @Params() params: ArtifactParams,
    @Query() query: ListQuery,
  ): Promise<Paged<AccessoryDto>> {
    return this.artifacts.listAccessories(project, params, query);
  }

  @Get(`${ARTIFACTS}/:reference/additions/vulnerabilities`)
  @Endpoint({
    operationId: 'getVulnerabilitiesAddition',
    summary:
      "The vulnerabilities of an artifact as Harbor's report (keyed by its mime type), from its latest scan; an " +
      "index's are its children's merged; {} when it was never scanned",
    tag: 'artifact',
    access: { kind: 'project', resource: 'artifact-addition', action: 'read', param: 'project_name' },
    params: ArtifactParams,
    response: { description: 'The vulnerability report', schema: VulnerabilitiesAdditionDto },
    errors: [400, 404],
  })
  getVulnerabilities(
    @CurrentProject() project: ProjectRef,
    @Params() params: ArtifactParams,
  ): Promise<VulnerabilitiesAdditionDto> {
    return this.artifacts.getVulnerabilities(project, params);
  }

  @Get(`${ARTIFACTS}/:reference/additions/:addition`)
  @Endpoint({
    operationId: 'getAddition',
    summary: "An addition of an artifact: an image's build_history (the history of its config)",
    tag: 'artifact',
    access: { kind: 'project', resource: 'artifact-addition', action: 'read', param: 'project_name' },
    params: AdditionParams,
    response: { description: 'The addition', schema: z.array(z.record(z.string(), z.unknown())) },
    errors: [400, 404],
  })
  getAddition(@CurrentProject() project: ProjectRef, @Params() params: AdditionParams): Promise<unknown[]> {
    return this.artifacts.getAddition(project, params);
  }
}
