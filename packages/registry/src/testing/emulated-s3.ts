import { mkdtemp, rm } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer, request } from 'node:http';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3_MIN_PART_SIZE, type S3StorageOptions } from '@wharf/storage';
import { S3Driver } from '@wharf/storage/s3';
import S3rver from 's3rver';

export const EMULATED_S3_BUCKET = 'wharf-registry-test';

export interface EmulatedS3 {
  /** The endpoint the drivers talk to (and presigned URLs point at). */
  endpoint: string;
  options(overrides?: Partial<S3StorageOptions>): S3StorageOptions;
  /** A new driver on the shared bucket; each is destroyed by stop(). */
  driver(overrides?: Partial<S3StorageOptions>): S3Driver;
  /** The part sizes of every multipart upload a driver asked to complete, in part order. */
  readonly completedUploads: number[][];
  /** Multipart completions refused because a part other than the last was under 5 MiB. */
  readonly refusedCompletions: string[];
  /** Every request the drivers sent, as `METHOD /bucket/key?query`, in order; a test may empty it. */
  readonly requests: string[];
  stop(): Promise<void>;
}

function queryOf(url: string | undefined): URLSearchParams {
  return new URL(url ?? '/', 'http://emulated-s3').searchParams;
}

/**
 * s3rver accepts multipart uploads with parts of any size, while S3 refuses to complete an upload
 * in which a part other than the last is under 5 MiB (EntityTooSmall). This proxy in front of it
 * enforces that rule, so an upload that S3 would refuse fails here too.
 */
function startPartSizeProxy(
  upstreamPort: number,
  completedUploads: number[][],
  refusedCompletions: string[],
  requests: string[],
): Promise<Server> {
  const partSizes = new Map<string, Map<number, number>>();
  const forward = (incoming: IncomingMessage, outgoing: ServerResponse, body?: Buffer, onOk?: () => void) => {
    const upstream = request(
      { host: '127.0.0.1', port: upstreamPort, method: incoming.method, path: incoming.url, headers: incoming.headers },
      (response) => {
        if (response.statusCode === 200) onOk?.();
        outgoing.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(outgoing);
      },
    );
    upstream.on('error', (error) => outgoing.destroy(error));
    if (body) upstream.end(body);
    else incoming.pipe(upstream);
  };

  const server = createServer((incoming, outgoing) => {
    requests.push(`${incoming.method ?? '?'} ${incoming.url ?? ''}`);
    const query = queryOf(incoming.url);
    const uploadId = query.get('uploadId');
    const partNumber = Number(query.get('partNumber'));
    if (incoming.method === 'PUT' && uploadId !== null && Number.isSafeInteger(partNumber) && partNumber > 0) {
      let size = 0;
      incoming.on('data', (chunk: Buffer) => {
        size += chunk.length;
      });
      forward(incoming, outgoing, undefined, () => {
        const parts = partSizes.get(uploadId) ?? new Map<number, number>();
        parts.set(partNumber, size);
        partSizes.set(uploadId, parts);
      });
      return;
    }
    if (incoming.method === 'POST' && uploadId !== null) {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('end', () => {
        const body = Buffer.concat(chunks);
        const listed = [...body.toString('utf8').matchAll(/<PartNumber>(\d+)<\/PartNumber>/g)].map((m) => Number(m[1]));
        const sizes = partSizes.get(uploadId);
        completedUploads.push(listed.map((part) => sizes?.get(part) ?? Number.NaN));
        const tooSmall = listed.slice(0, -1).find((part) => (sizes?.get(part) ?? S3_MIN_PART_SIZE) < S3_MIN_PART_SIZE);
        if (tooSmall !== undefined) {
          refusedCompletions.push(`${incoming.url ?? ''}: part ${tooSmall} has ${sizes?.get(tooSmall)} bytes`);
          outgoing.writeHead(400, { 'content-type': 'application/xml' });
          outgoing.end(
            '<?xml version="1.0" encoding="UTF-8"?><Error><Code>EntityTooSmall</Code>' +
              '<Message>Your proposed upload is smaller than the minimum allowed object size.</Message></Error>',
          );
          return;
        }
        forward(incoming, outgoing, body, () => partSizes.delete(uploadId));
      });
      return;
    }
    forward(incoming, outgoing);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

/** s3rver on a free loopback port with one bucket, behind a proxy that enforces S3's part-size rule. */
export async function startEmulatedS3(): Promise<EmulatedS3> {
  const directory = await mkdtemp(join(tmpdir(), 'wharf-registry-s3rver-'));
  const emulator = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: EMULATED_S3_BUCKET }],
  });
  const { port } = await emulator.run();
  const completedUploads: number[][] = [];
  const refusedCompletions: string[] = [];
  const requests: string[] = [];
  const proxy = await startPartSizeProxy(port, completedUploads, refusedCompletions, requests);
  const endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const drivers: S3Driver[] = [];
  const options = (overrides: Partial<S3StorageOptions> = {}): S3StorageOptions => ({
    driver: 's3',
    bucket: EMULATED_S3_BUCKET,
    region: 'us-east-1',
    endpoint,
    accessKey: 'S3RVER',
    secretKey: 'S3RVER',
    forcePathStyle: true,
    rootDirectory: '/registry/v2/',
    chunkSize: S3_MIN_PART_SIZE,
    redirect: false,
    ...overrides,
  });
  return {
    endpoint,
    options,
    driver: (overrides) => {
      const driver = new S3Driver(options(overrides));
      drivers.push(driver);
      return driver;
    },
    completedUploads,
    refusedCompletions,
    requests,
    stop: async () => {
      for (const driver of drivers) driver.destroy();
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      await emulator.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
