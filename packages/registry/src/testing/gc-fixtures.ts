import { createHash, randomBytes } from 'node:crypto';
import { get as httpGet } from 'node:http';
import { MediaType, parseDigest } from '@wharf/oci';
import { type StorageDriver } from '@wharf/storage';
import { type DataSource } from 'typeorm';
import { blobDataPath } from '../uploads/blob-store.js';

export const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface PushedImage {
  digest: string;
  manifest: Buffer;
  config: Buffer;
  layers: Buffer[];
}

/** A client of a registry under test, pushing the way docker and podman do. */
export class GcTestClient {
  constructor(private readonly base: string) {}

  url(path: string): string {
    return `${this.base}${path}`;
  }

  async pushBlob(name: string, data: Buffer): Promise<string> {
    const digest = sha(data);
    const res = await fetch(this.url(`/v2/${name}/blobs/uploads/?digest=${digest}`), {
      method: 'POST',
      body: data,
      headers: { 'content-type': 'application/octet-stream' },
    });
    if (res.status !== 201) throw new Error(`blob push answered ${res.status}: ${await res.text()}`);
    return digest;
  }

  async headBlob(name: string, digest: string): Promise<number> {
    return (await fetch(this.url(`/v2/${name}/blobs/${digest}`), { method: 'HEAD' })).status;
  }

  /**
   * A blob's bytes, or null when it is not there. On a connection of its own, closed after the response: a download
   * is written past the web framework, which then cannot close the connection when the registry closes.
   */
  async getBlob(name: string, digest: string): Promise<Buffer | null> {
    return new Promise((resolve, reject) => {
      const request = httpGet(this.url(`/v2/${name}/blobs/${digest}`), { agent: false }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve(response.statusCode === 200 ? Buffer.concat(chunks) : null));
        response.on('error', reject);
      });
      request.on('error', reject);
    });
  }

  async mount(name: string, from: string, digest: string): Promise<number> {
    const res = await fetch(this.url(`/v2/${name}/blobs/uploads/?mount=${digest}&from=${from}`), { method: 'POST' });
    await res.arrayBuffer();
    return res.status;
  }

  async putManifest(name: string, reference: string, body: Buffer, mediaType: string): Promise<Response> {
    return fetch(this.url(`/v2/${name}/manifests/${reference}`), {
      method: 'PUT',
      body,
      headers: { 'content-type': mediaType },
    });
  }

  async deleteManifest(name: string, reference: string): Promise<number> {
    return (await fetch(this.url(`/v2/${name}/manifests/${reference}`), { method: 'DELETE' })).status;
  }

  /**
   * Pushes an image as a client does: each blob unless HEAD finds it, then the manifest; a manifest answered
   * MANIFEST_BLOB_UNKNOWN (a blob collected meanwhile) has its blobs pushed again, as clients retry.
   */
  async pushImage(
    name: string,
    reference: string,
    image: { config: Buffer; layers: Buffer[]; subject?: { digest: string; size: number }; layerMediaType?: string },
  ): Promise<PushedImage> {
    const manifest = imageManifest(image.config, image.layers, image.subject, image.layerMediaType);
    for (let attempt = 0; attempt < 10; attempt++) {
      for (const blob of [image.config, ...image.layers]) {
        if (attempt > 0 || (await this.headBlob(name, sha(blob))) !== 200) await this.pushBlob(name, blob);
      }
      const res = await this.putManifest(name, reference, manifest, MediaType.OciManifest);
      const text = await res.text();
      if (res.status === 201) return { digest: sha(manifest), manifest, config: image.config, layers: image.layers };
      if (!text.includes('MANIFEST_BLOB_UNKNOWN')) throw new Error(`manifest push answered ${res.status}: ${text}`);
    }
    throw new Error(`manifest push of ${name}:${reference} kept meeting collected blobs`);
  }

  async pushIndex(name: string, reference: string, children: PushedImage[]): Promise<{ digest: string; body: Buffer }> {
    const body = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        manifests: children.map((c) => ({
          mediaType: MediaType.OciManifest,
          digest: c.digest,
          size: c.manifest.length,
        })),
      }),
    );
    const res = await this.putManifest(name, reference, body, MediaType.OciIndex);
    if (res.status !== 201) throw new Error(`index push answered ${res.status}: ${await res.text()}`);
    return { digest: sha(body), body };
  }
}

export function imageManifest(
  config: Buffer,
  layers: Buffer[],
  subject?: { digest: string; size: number },
  layerMediaType: string = MediaType.OciLayerTarGzip,
): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: sha(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: layerMediaType, digest: sha(l), size: l.length })),
      ...(subject ? { subject: { mediaType: MediaType.OciManifest, ...subject } } : {}),
    }),
  );
}

export function randomImage(layers = 1, layerBytes = 1000): { config: Buffer; layers: Buffer[] } {
  return {
    config: Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', seed: randomBytes(8).toString('hex') })),
    layers: Array.from({ length: layers }, () => randomBytes(layerBytes)),
  };
}

export function blobPath(digest: string): string {
  return blobDataPath(parseDigest(digest)!);
}

/** Makes every blob and manifest look as if pushed `hours` ago, so that a collection's time window passes them. */
export async function ageEverything(dataSource: DataSource, hours: number): Promise<void> {
  await dataSource.query(`UPDATE registry_blob SET touched_at = now() - $1::double precision * interval '1 hour'`, [
    hours,
  ]);
  await dataSource.query(`UPDATE registry_manifest SET created_at = now() - $1::double precision * interval '1 hour'`, [
    hours,
  ]);
}

/**
 * What must hold after any collection, finished or not: every reference of every manifest (config and layers) has a
 * row that is not being deleted and its bytes in storage, of its size; every index's child is stored. Resolves to
 * the problems found.
 */
export async function danglingReferences(dataSource: DataSource, storage: StorageDriver): Promise<string[]> {
  const problems: string[] = [];
  const rows = await dataSource.query<{ digest: string; size: string; gc_state: string | null; kind: string }[]>(
    `SELECT DISTINCT r.digest, r.size, b.gc_state, r.kind FROM registry_manifest_reference r
       LEFT JOIN registry_blob b ON b.digest = r.digest
      WHERE r.kind <> 'manifest'`,
  );
  for (const row of rows) {
    if (row.gc_state !== 'none') problems.push(`${row.kind} ${row.digest} has state ${row.gc_state}`);
    const info = await storage.stat(blobPath(row.digest));
    if (!info || info.size !== Number(row.size)) problems.push(`${row.kind} ${row.digest} has no bytes`);
  }
  const children = await dataSource.query<{ digest: string }[]>(
    `SELECT r.digest FROM registry_manifest_reference r JOIN registry_manifest p ON p.id = r.manifest_id
      WHERE r.kind = 'manifest'
        AND NOT EXISTS (SELECT 1 FROM registry_manifest c WHERE c.repository_id = p.repository_id AND c.digest = r.digest)`,
  );
  for (const child of children) problems.push(`index child ${child.digest} is not stored`);
  return problems;
}
