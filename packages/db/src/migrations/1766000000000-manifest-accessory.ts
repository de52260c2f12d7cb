import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Accessories as Harbor models them: a manifest attached to a subject manifest of its repository (a signature, an
 * SBOM, another referrer), recorded on the accessory's row with its type. A manifest is attached by its OCI `subject`
 * field, or by cosign's tag convention (`sha256-<hex>.sig` names the manifest `sha256:<hex>`), which has no field in
 * the manifest to find it by: so the link is a column of its own, set when the manifest is stored or given such a
 * tag, and kept by digest, so that a subject pushed after its accessory finds it. Existing rows are classified as the
 * registry now classifies a push.
 */
export class ManifestAccessory1766000000000 implements MigrationInterface {
  name = 'ManifestAccessory1766000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE registry_manifest
        ADD COLUMN accessory_subject text,
        ADD COLUMN accessory_type text,
        ADD CONSTRAINT registry_manifest_accessory_check CHECK ((accessory_subject IS NULL) = (accessory_type IS NULL))`);
    await q.query(`
      UPDATE registry_manifest SET accessory_subject = subject_digest, accessory_type = CASE
          WHEN artifact_type IN ('application/vnd.dev.cosign.artifact.sig.v1+json',
                                 'application/vnd.dev.sigstore.bundle.v0.3+json') THEN 'signature.cosign'
          WHEN artifact_type = 'application/vnd.cncf.notary.signature' THEN 'signature.notation'
          WHEN artifact_type = 'application/vnd.goharbor.harbor.sbom.v1' THEN 'sbom.harbor'
          WHEN artifact_type IN ('application/vnd.oci.image.config.v1+json',
                                 'application/vnd.docker.container.image.v1+json')
           AND (convert_from(payload, 'UTF8')::jsonb -> 'layers' -> -1 -> 'annotations')
               ? 'containerd.io/snapshot/nydus-bootstrap' THEN 'accelerator.nydus'
          ELSE 'subject.accessory' END
       WHERE subject_digest IS NOT NULL`);
    await q.query(`
      UPDATE registry_manifest m
         SET accessory_subject = 'sha256:' || substring(t.name FROM '^sha256-([0-9a-f]{64})'),
             accessory_type = CASE WHEN t.name LIKE '%.sig' THEN 'signature.cosign' ELSE 'subject.accessory' END
        FROM (SELECT DISTINCT ON (manifest_id) manifest_id, name FROM registry_tag
               WHERE name ~ '^sha256-[0-9a-f]{64}\\.(sig|att|sbom)$' ORDER BY manifest_id, name) t
       WHERE m.id = t.manifest_id AND m.accessory_subject IS NULL
         AND m.digest <> 'sha256:' || substring(t.name FROM '^sha256-([0-9a-f]{64})')
         AND (t.name NOT LIKE '%.sig' OR EXISTS (
               SELECT 1 FROM registry_manifest_reference r
                WHERE r.manifest_id = m.id AND r.kind = 'layer'
                  AND r.media_type = 'application/vnd.dev.cosign.simplesigning.v1+json'))`);
    await q.query(`
      CREATE INDEX registry_manifest_accessory_idx ON registry_manifest (repository_id, accessory_subject)
        WHERE accessory_subject IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS registry_manifest_accessory_idx`);
    await q.query(`
      ALTER TABLE registry_manifest
        DROP CONSTRAINT IF EXISTS registry_manifest_accessory_check,
        DROP COLUMN IF EXISTS accessory_type,
        DROP COLUMN IF EXISTS accessory_subject`);
  }
}
