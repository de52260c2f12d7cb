import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

// Entities mirror the migration; bigint columns map to strings because JavaScript numbers cannot hold them all.

@Entity({ name: 'registry_repository' })
export class RepositoryEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

@Entity({ name: 'registry_blob' })
export class BlobEntity {
  @PrimaryColumn({ type: 'text' })
  digest!: string;

  @Column({ type: 'bigint' })
  size!: string;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

@Entity({ name: 'registry_repository_blob' })
export class RepositoryBlobEntity {
  @PrimaryColumn({ name: 'repository_id', type: 'bigint' })
  repositoryId!: string;

  @PrimaryColumn({ type: 'text' })
  digest!: string;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

@Entity({ name: 'registry_manifest' })
export class ManifestEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'repository_id', type: 'bigint' })
  repositoryId!: string;

  @Column({ type: 'text' })
  digest!: string;

  @Column({ name: 'media_type', type: 'text' })
  mediaType!: string;

  @Column({ name: 'artifact_type', type: 'text', nullable: true })
  artifactType!: string | null;

  @Column({ type: 'bigint' })
  size!: string;

  @Column({ type: 'bytea' })
  payload!: Buffer;

  @Column({ name: 'subject_digest', type: 'text', nullable: true })
  subjectDigest!: string | null;

  @Column({ type: 'jsonb', nullable: true })
  annotations!: Record<string, string> | null;

  /** The manifest this one is an accessory of, by its subject field or cosign's tag convention. */
  @Column({ name: 'accessory_subject', type: 'text', nullable: true })
  accessorySubject!: string | null;

  /** Harbor's accessory type (signature.cosign, sbom.harbor, …), set with accessory_subject. */
  @Column({ name: 'accessory_type', type: 'text', nullable: true })
  accessoryType!: string | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

@Entity({ name: 'registry_manifest_reference' })
export class ManifestReferenceEntity {
  @PrimaryColumn({ name: 'manifest_id', type: 'bigint' })
  manifestId!: string;

  @PrimaryColumn({ type: 'integer' })
  position!: number;

  @Column({ type: 'text' })
  kind!: 'config' | 'layer' | 'manifest';

  @Column({ type: 'text' })
  digest!: string;

  @Column({ name: 'media_type', type: 'text' })
  mediaType!: string;

  @Column({ type: 'bigint' })
  size!: string;
}

@Entity({ name: 'registry_tag' })
export class TagEntity {
  @PrimaryColumn({ name: 'repository_id', type: 'bigint' })
  repositoryId!: string;

  @PrimaryColumn({ type: 'text' })
  name!: string;

  @Column({ name: 'manifest_id', type: 'bigint' })
  manifestId!: string;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

@Entity({ name: 'registry_upload' })
export class UploadEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ name: 'repository_name', type: 'text' })
  repositoryName!: string;

  @Column({ type: 'text' })
  path!: string;

  @Column({ type: 'bigint' })
  size!: string;

  @Column({ name: 'lease_owner', type: 'uuid', nullable: true })
  leaseOwner!: string | null;

  @Column({ name: 'lease_until', type: 'timestamptz', nullable: true })
  leaseUntil!: Date | null;

  @Column({ name: 'lease_holder', type: 'integer', nullable: true })
  leaseHolder!: number | null;

  @Column({ name: 'started_at', type: 'timestamptz' })
  startedAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

@Entity({ name: 'event_outbox' })
export class OutboxEventEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ type: 'text' })
  type!: string;

  @Column({ type: 'jsonb' })
  payload!: Record<string, unknown>;

  @Column({ name: 'occurred_at', type: 'timestamptz' })
  occurredAt!: Date;

  @Column({ name: 'delivered_at', type: 'timestamptz', nullable: true })
  deliveredAt!: Date | null;
}

export const REGISTRY_ENTITIES = [
  RepositoryEntity,
  BlobEntity,
  RepositoryBlobEntity,
  ManifestEntity,
  ManifestReferenceEntity,
  TagEntity,
  UploadEntity,
  OutboxEventEntity,
];
