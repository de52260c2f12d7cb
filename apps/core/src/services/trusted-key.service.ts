import { Injectable } from '@nestjs/common';
import { type ProjectRef } from '../auth/principal.js';
import { type TrustedKeyDto, type TrustedKeyReqDto } from '../dtos/trusted-key.dto.js';
import { ApiError } from '../errors/api-error.js';
import { type WithHeaders, created } from '../http/responses.js';
import { ContentTrust } from '../policy/content-trust.js';
import { TrustedKeyError, parseTrustedKey } from '../policy/signature-verification.js';
import {
  DuplicateTrustedKeyError,
  type TrustedKeyRecord,
  TrustedKeyRepository,
} from '../repositories/trusted-key.repository.js';

/** Keys a project may trust at most: a pull with trusted keys tries each of them. */
export const MAX_TRUSTED_KEYS_PER_PROJECT = 50;

const toDto = (record: TrustedKeyRecord): TrustedKeyDto => ({
  id: record.id,
  type: record.type,
  name: record.name,
  pem: record.pem,
  fingerprint: record.fingerprint,
  creation_time: record.creationTime.toISOString(),
});

/** The public keys and certificates a project trusts for content trust (beyond Harbor, which checks existence only). */
@Injectable()
export class TrustedKeyService {
  constructor(
    private readonly keys: TrustedKeyRepository,
    private readonly contentTrust: ContentTrust,
  ) {}

  async list(project: ProjectRef): Promise<TrustedKeyDto[]> {
    return (await this.keys.list(project.projectId)).map(toDto);
  }

  async get(project: ProjectRef, id: number): Promise<TrustedKeyDto> {
    const record = await this.keys.get(project.projectId, id);
    if (!record) throw ApiError.notFound(`trusted key ${id} not found in project ${project.name}`);
    return toDto(record);
  }

  async create(project: ProjectRef, projectNameOrId: string, body: TrustedKeyReqDto): Promise<WithHeaders<undefined>> {
    let parsed;
    try {
      parsed = parseTrustedKey(body.type, body.pem);
    } catch (error) {
      if (error instanceof TrustedKeyError) throw ApiError.badRequest(error.message);
      throw error;
    }
    if ((await this.keys.list(project.projectId)).length >= MAX_TRUSTED_KEYS_PER_PROJECT) {
      throw ApiError.badRequest(`project ${project.name} trusts ${MAX_TRUSTED_KEYS_PER_PROJECT} keys already`);
    }
    const id = await this.keys
      .create(project.projectId, { type: body.type, name: body.name, ...parsed })
      .catch((error: unknown) => {
        throw error instanceof DuplicateTrustedKeyError ? ApiError.conflict(error.message) : error;
      });
    this.contentTrust.forget();
    return created(`/api/v2.0/projects/${encodeURIComponent(projectNameOrId)}/trusted-keys/${id}`);
  }

  async delete(project: ProjectRef, id: number): Promise<void> {
    if (!(await this.keys.delete(project.projectId, id))) {
      throw ApiError.notFound(`trusted key ${id} not found in project ${project.name}`);
    }
    this.contentTrust.forget();
  }
}
