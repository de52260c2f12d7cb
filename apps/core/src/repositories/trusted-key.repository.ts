import { Injectable } from '@nestjs/common';
import { type PreparedQuery, preparedQueries } from '@wharf/db';
import { DataSource } from 'typeorm';
import { type TrustedKeyType } from '../policy/signature-verification.js';

/** A public key or certificate a project trusts for content trust, as stored. */
export interface TrustedKeyRecord {
  id: number;
  projectId: number;
  type: TrustedKeyType;
  name: string;
  pem: string;
  fingerprint: string;
  creationTime: Date;
}

interface KeyRow {
  id: number;
  project_id: number;
  type: TrustedKeyType;
  name: string;
  pem: string;
  fingerprint: string;
  creation_time: Date;
}

const toRecord = (row: KeyRow): TrustedKeyRecord => ({
  id: row.id,
  projectId: row.project_id,
  type: row.type,
  name: row.name,
  pem: row.pem,
  fingerprint: row.fingerprint,
  creationTime: row.creation_time,
});

/** A project's content trust switches and the keys it trusts. */
export interface ProjectTrustRow {
  cosign: boolean;
  notation: boolean;
  keys: { type: TrustedKeyType; pem: string; fingerprint: string }[];
}

/** A signature accessory of the manifest asked about, or of an index of its repository that lists it. */
export interface SignatureRow {
  digest: string;
  type: string;
  subject: string;
  subjectMediaType: string;
  subjectSize: number;
}

/** The manifest a pull asks for: whether it is an accessory itself, and the signatures that cover it. */
export interface PulledManifest {
  accessory: boolean;
  signatures: SignatureRow[];
}

/** The same key twice in a project. */
export class DuplicateTrustedKeyError extends Error {
  constructor() {
    super('the project trusts this key already');
  }
}

const KEY_COLUMNS = 'id, project_id, type, name, pem, fingerprint, creation_time';

/**
 * Trusted keys (`project_trusted_key`, every change announced by a trigger), and what the content trust gate reads
 * on a pull: each of those questions is one indexed query, prepared once per connection.
 */
@Injectable()
export class TrustedKeyRepository {
  private readonly prepared: PreparedQuery;

  constructor(private readonly dataSource: DataSource) {
    this.prepared = preparedQueries(dataSource);
  }

  async list(projectId: number): Promise<TrustedKeyRecord[]> {
    const rows = await this.dataSource.query<KeyRow[]>(
      `SELECT ${KEY_COLUMNS} FROM project_trusted_key WHERE project_id = $1 ORDER BY id`,
      [projectId],
    );
    return rows.map(toRecord);
  }

  async get(projectId: number, id: number): Promise<TrustedKeyRecord | null> {
    const rows = await this.dataSource.query<KeyRow[]>(
      `SELECT ${KEY_COLUMNS} FROM project_trusted_key WHERE project_id = $1 AND id = $2`,
      [projectId, id],
    );
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async create(
    projectId: number,
    key: { type: TrustedKeyType; name: string; pem: string; fingerprint: string },
  ): Promise<number> {
    try {
      const rows = await this.dataSource.query<{ id: number }[]>(
        `INSERT INTO project_trusted_key (project_id, type, name, pem, fingerprint) VALUES ($1, $2, $3, $4, $5)
         RETURNING id`,
        [projectId, key.type, key.name, key.pem, key.fingerprint],
      );
      return rows[0].id;
    } catch (error) {
      const e = error as { code?: unknown; driverError?: { code?: unknown } };
      if ((e?.driverError?.code ?? e?.code) === '23505') throw new DuplicateTrustedKeyError();
      throw error;
    }
  }

  async delete(projectId: number, id: number): Promise<boolean> {
    const rows = await this.dataSource.query<[unknown[], number]>(
      `DELETE FROM project_trusted_key WHERE project_id = $1 AND id = $2 RETURNING id`,
      [projectId, id],
    );
    return (rows[0]?.length ?? 0) > 0;
  }

  /** The project's content trust switches and keys; null when there is no such project. */
  async projectTrust(projectName: string): Promise<ProjectTrustRow | null> {
    const rows = await this.prepared<{ cosign: string | null; notation: string | null; keys: ProjectTrustRow['keys'] }>(
      'content_trust_project',
      `SELECT (SELECT value FROM project_metadata
                WHERE project_id = p.project_id AND name = 'enable_content_trust_cosign') AS cosign,
              (SELECT value FROM project_metadata
                WHERE project_id = p.project_id AND name = 'enable_content_trust') AS notation,
              COALESCE((SELECT json_agg(json_build_object('type', k.type, 'pem', k.pem, 'fingerprint', k.fingerprint)
                                        ORDER BY k.id)
                          FROM project_trusted_key k WHERE k.project_id = p.project_id), '[]') AS keys
         FROM project p WHERE p.name = $1`,
      [projectName],
    );
    const row = rows[0];
    if (!row) return null;
    return { cosign: row.cosign === 'true', notation: row.notation === 'true', keys: row.keys };
  }

  /**
   * The manifest `digest` of the repository: whether it is an accessory, and the signature accessories of it and of
   * the indexes of the same repository that list it. Null when the repository does not hold it.
   */
  async pulledManifest(repository: string, digest: string): Promise<PulledManifest | null> {
    const rows = await this.prepared<{
      accessory: boolean;
      digest: string | null;
      type: string | null;
      subject: string | null;
      subject_media_type: string | null;
      subject_size: string | null;
    }>(
      'content_trust_pulled_manifest',
      `WITH target AS (
         SELECT mf.repository_id, mf.accessory_type IS NOT NULL AS accessory
           FROM registry_repository r JOIN registry_manifest mf ON mf.repository_id = r.id AND mf.digest = $2
          WHERE r.name = $1),
       covering AS (
         SELECT $2::text AS digest
         UNION
         SELECT parent.digest FROM target t
           JOIN registry_manifest_reference ref ON ref.kind = 'manifest' AND ref.digest = $2
           JOIN registry_manifest parent ON parent.id = ref.manifest_id AND parent.repository_id = t.repository_id)
       SELECT t.accessory, s.digest, s.accessory_type AS type, s.accessory_subject AS subject,
              sub.media_type AS subject_media_type, sub.size::text AS subject_size
         FROM target t
         LEFT JOIN registry_manifest s
           ON s.repository_id = t.repository_id AND s.accessory_subject IN (SELECT digest FROM covering)
          AND s.accessory_type IN ('signature.cosign', 'signature.notation')
         LEFT JOIN registry_manifest sub ON sub.repository_id = t.repository_id AND sub.digest = s.accessory_subject
        ORDER BY s.created_at DESC, s.id DESC`,
      [repository, digest],
    );
    if (rows.length === 0) return null;
    const signatures: SignatureRow[] = [];
    for (const row of rows) {
      if (row.digest === null || row.type === null || row.subject === null) continue;
      signatures.push({
        digest: row.digest,
        type: row.type,
        subject: row.subject,
        subjectMediaType: row.subject_media_type ?? '',
        subjectSize: Number(row.subject_size ?? -1),
      });
    }
    return { accessory: rows[0].accessory, signatures };
  }

  /** The stored bytes of a manifest of the repository; null when it holds none of that digest. */
  async manifestPayload(repository: string, digest: string): Promise<Buffer | null> {
    const rows = await this.prepared<{ payload: Buffer | null }>(
      'content_trust_manifest_payload',
      `SELECT mf.payload FROM registry_repository r
         JOIN registry_manifest mf ON mf.repository_id = r.id AND mf.digest = $2 WHERE r.name = $1`,
      [repository, digest],
    );
    return rows[0]?.payload ?? null;
  }

  /** Whether the repository holds the blob (signature layers are read only from their own repository). */
  async blobInRepository(repository: string, digest: string): Promise<boolean> {
    const rows = await this.prepared<unknown>(
      'content_trust_blob_linked',
      `SELECT 1 FROM registry_repository r
         JOIN registry_repository_blob rb ON rb.repository_id = r.id AND rb.digest = $2
        WHERE r.name = $1`,
      [repository, digest],
    );
    return rows.length > 0;
  }
}
