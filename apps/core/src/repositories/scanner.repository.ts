import { Injectable } from '@nestjs/common';
import { type Pagination, type QueryTerm, type SortTerm, buildFilter, buildOrderBy } from '@wharf/db';
import { DataSource } from 'typeorm';

/** A scanner registration as stored; the access credential stays sealed here. */
export interface ScannerRegistrationRecord {
  id: number;
  uuid: string;
  name: string;
  description: string;
  url: string;
  disabled: boolean;
  isDefault: boolean;
  skipCertVerify: boolean;
  auth: string;
  /** AES-256-GCM sealed (see credential-cipher), or null without one. */
  sealedCredential: Buffer | null;
  useInternalAddr: boolean;
  immutable: boolean;
  createTime: Date;
  updateTime: Date;
}

/** What a registration says, as created or changed. */
export interface ScannerRegistrationFields {
  name: string;
  description: string;
  url: string;
  disabled: boolean;
  skipCertVerify: boolean;
  auth: string;
  sealedCredential: Buffer | null;
  useInternalAddr: boolean;
}

interface Row {
  id: number;
  uuid: string;
  name: string;
  description: string;
  url: string;
  disabled: boolean;
  is_default: boolean;
  skip_cert_verify: boolean;
  auth: string;
  access_credential: Buffer | null;
  use_internal_addr: boolean;
  immutable: boolean;
  create_time: Date;
  update_time: Date;
}

function toRecord(row: Row): ScannerRegistrationRecord {
  return {
    id: row.id,
    uuid: row.uuid,
    name: row.name,
    description: row.description,
    url: row.url,
    disabled: row.disabled,
    isDefault: row.is_default,
    skipCertVerify: row.skip_cert_verify,
    auth: row.auth,
    sealedCredential: row.access_credential,
    useInternalAddr: row.use_internal_addr,
    immutable: row.immutable,
    createTime: row.create_time,
    updateTime: row.update_time,
  };
}

const COLUMNS =
  's.id, s.uuid, s.name, s.description, s.url, s.disabled, s.is_default, s.skip_cert_verify, s.auth, ' +
  's.access_credential, s.use_internal_addr, s.immutable, s.create_time, s.update_time';

/** `q` keys of the registration lists. */
const FIELDS = {
  name: { column: 's.name', type: 'text', fuzzy: true },
  description: { column: 's.description', type: 'text', fuzzy: true },
  url: { column: 's.url', type: 'text', fuzzy: true },
} as const;
const SORTABLE = { name: 's.name', create_time: 's.create_time', update_time: 's.update_time' };

/** Another registration has the name or the URL. */
export class DuplicateScannerError extends Error {}

function duplicateOf(error: unknown, fields: ScannerRegistrationFields): DuplicateScannerError | undefined {
  if (isUniqueViolation(error, 'scanner_registration_name_key')) {
    return new DuplicateScannerError(`a scanner registration named ${JSON.stringify(fields.name)} exists already`);
  }
  if (isUniqueViolation(error, 'scanner_registration_url_key')) {
    return new DuplicateScannerError(`a scanner registration of the URL ${fields.url} exists already`);
  }
  return undefined;
}

function isUniqueViolation(error: unknown, constraint: string): boolean {
  const e = error as { code?: unknown; constraint?: unknown; driverError?: { code?: unknown; constraint?: unknown } };
  return (e?.driverError?.code ?? e?.code) === '23505' && (e?.driverError?.constraint ?? e?.constraint) === constraint;
}

/** Scanner registrations (`scanner_registration`) and the project bindings (`project_scanner`). */
@Injectable()
export class ScannerRepository {
  constructor(private readonly dataSource: DataSource) {}

  async list(
    terms: readonly QueryTerm[],
    sort: readonly SortTerm[],
    page: Pagination,
    options: { enabledOnly?: boolean } = {},
  ): Promise<{ items: ScannerRegistrationRecord[]; total: number }> {
    const params: unknown[] = [];
    const filters = [buildFilter(terms, FIELDS, params)];
    if (options.enabledOnly) filters.push('NOT s.disabled');
    const where = filters.join(' AND ');
    const order = buildOrderBy(sort, SORTABLE, 's.create_time, s.id');
    const [rows, counted] = await Promise.all([
      this.dataSource.query<Row[]>(
        `SELECT ${COLUMNS} FROM scanner_registration s WHERE ${where} ORDER BY ${order}
         LIMIT ${page.pageSize} OFFSET ${page.offset}`,
        params,
      ),
      this.dataSource.query<{ total: string }[]>(
        `SELECT count(*) AS total FROM scanner_registration s WHERE ${where}`,
        params,
      ),
    ]);
    return { items: rows.map(toRecord), total: Number(counted[0]?.total ?? 0) };
  }

  async get(uuid: string): Promise<ScannerRegistrationRecord | undefined> {
    const rows = await this.dataSource.query<Row[]>(`SELECT ${COLUMNS} FROM scanner_registration s WHERE s.uuid = $1`, [
      uuid,
    ]);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  async getDefault(): Promise<ScannerRegistrationRecord | undefined> {
    const rows = await this.dataSource.query<Row[]>(`SELECT ${COLUMNS} FROM scanner_registration s WHERE s.is_default`);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /** The built-in scanner's registration (by its URL). */
  async getByUrl(url: string): Promise<ScannerRegistrationRecord | undefined> {
    const rows = await this.dataSource.query<Row[]>(
      `SELECT ${COLUMNS} FROM scanner_registration s WHERE s.url = $1 ORDER BY s.id LIMIT 1`,
      [url],
    );
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /** Adds a registration, not the default; the credential is sealed by the caller for `uuid`. */
  async insert(uuid: string, fields: ScannerRegistrationFields): Promise<void> {
    try {
      await this.dataSource.query(
        `INSERT INTO scanner_registration
           (uuid, name, description, url, disabled, skip_cert_verify, auth, access_credential, use_internal_addr)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          uuid,
          fields.name,
          fields.description,
          fields.url,
          fields.disabled,
          fields.skipCertVerify,
          fields.auth,
          fields.sealedCredential,
          fields.useInternalAddr,
        ],
      );
    } catch (error) {
      throw duplicateOf(error, fields) ?? error;
    }
  }

  /** Changes a mutable registration; false when there is none of that uuid (or it is immutable). */
  async update(uuid: string, fields: ScannerRegistrationFields): Promise<boolean> {
    try {
      const [, affected] = await this.dataSource.query<[unknown, number]>(
        `UPDATE scanner_registration SET name = $2, description = $3, url = $4, disabled = $5, skip_cert_verify = $6,
           auth = $7, access_credential = $8, use_internal_addr = $9, update_time = now()
         WHERE uuid = $1 AND NOT immutable`,
        [
          uuid,
          fields.name,
          fields.description,
          fields.url,
          fields.disabled,
          fields.skipCertVerify,
          fields.auth,
          fields.sealedCredential,
          fields.useInternalAddr,
        ],
      );
      return affected > 0;
    } catch (error) {
      throw duplicateOf(error, fields) ?? error;
    }
  }

  /** Deletes a mutable registration that is not the default; projects bound to it fall back to the default. */
  async delete(uuid: string): Promise<boolean> {
    const [, affected] = await this.dataSource.query<[unknown, number]>(
      `DELETE FROM scanner_registration WHERE uuid = $1 AND NOT immutable AND NOT is_default`,
      [uuid],
    );
    return affected > 0;
  }

  /** Makes an enabled registration the one default; false when there is no such enabled registration. */
  async setDefault(uuid: string): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      // The row to become the default, locked so it cannot be disabled or deleted meanwhile.
      const target = await manager.query<{ id: number }[]>(
        `SELECT id FROM scanner_registration WHERE uuid = $1 AND NOT disabled FOR UPDATE`,
        [uuid],
      );
      const id = target[0]?.id;
      if (id === undefined) return false;
      await manager.query(
        `UPDATE scanner_registration SET is_default = false, update_time = now() WHERE is_default AND id <> $1`,
        [id],
      );
      await manager.query(
        `UPDATE scanner_registration SET is_default = true, update_time = now() WHERE id = $1 AND NOT is_default`,
        [id],
      );
      return true;
    });
  }

  /** The registration bound to the project, if any. */
  async projectRegistration(projectId: number): Promise<ScannerRegistrationRecord | undefined> {
    const rows = await this.dataSource.query<Row[]>(
      `SELECT ${COLUMNS} FROM project_scanner p JOIN scanner_registration s ON s.id = p.registration_id
       WHERE p.project_id = $1`,
      [projectId],
    );
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /** Binds the project to an enabled registration; false when there is no such enabled registration. */
  async bindProject(projectId: number, uuid: string): Promise<boolean> {
    const rows = await this.dataSource.query<unknown[]>(
      `INSERT INTO project_scanner (project_id, registration_id)
         SELECT $1, id FROM scanner_registration WHERE uuid = $2 AND NOT disabled
       ON CONFLICT (project_id) DO UPDATE SET registration_id = EXCLUDED.registration_id
       RETURNING project_id`,
      [projectId, uuid],
    );
    return rows.length > 0;
  }
}
