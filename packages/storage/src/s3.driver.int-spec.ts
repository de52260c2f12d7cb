import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import S3rver from 's3rver';
import { S3Driver, type S3StorageOptions } from './s3.driver.js';
import { createStorageDriver } from './storage.factory.js';
import { describeStorageDriverContract, readStream } from './testing/driver-contract.js';
import { StorageError } from './types.js';

const MiB = 1024 * 1024;
const BUCKET = 'wharf-test';

interface EmulatedS3 {
  options(overrides?: Partial<S3StorageOptions>): S3StorageOptions;
  driver(overrides?: Partial<S3StorageOptions>): S3Driver;
  stop(): Promise<void>;
}

/** Starts s3rver on a free loopback port, storing into a temporary directory. */
async function startEmulatedS3(): Promise<EmulatedS3> {
  const directory = await mkdtemp(join(tmpdir(), 'wharf-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: BUCKET }],
  });
  const { port } = await server.run();
  const drivers: S3Driver[] = [];
  const options = (overrides: Partial<S3StorageOptions> = {}): S3StorageOptions => ({
    driver: 's3',
    bucket: BUCKET,
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${port}`,
    accessKey: 'S3RVER',
    secretKey: 'S3RVER',
    forcePathStyle: true,
    rootDirectory: '/registry/v2/',
    chunkSize: 5 * MiB,
    redirect: true,
    ...overrides,
  });
  return {
    options,
    driver: (overrides) => {
      const driver = new S3Driver(options(overrides));
      drivers.push(driver);
      return driver;
    },
    stop: async () => {
      for (const driver of drivers) driver.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

describeStorageDriverContract('s3 (emulated by s3rver)', async () => {
  const s3 = await startEmulatedS3();
  return { createDriver: () => s3.driver(), cleanup: () => s3.stop() };
});

describe('S3Driver (emulated by s3rver)', () => {
  let s3: EmulatedS3;

  beforeAll(async () => {
    s3 = await startEmulatedS3();
  });
  afterAll(async () => {
    await s3?.stop();
  });

  it('is built by the factory and keeps objects under rootDirectory', async () => {
    const driver = await createStorageDriver(s3.options());
    expect(driver.name).toBe('s3');
    (driver as S3Driver).destroy();
    await s3.driver().putContent('repositories/app/link', Buffer.from('rooted'));
    const unrooted = s3.driver({ rootDirectory: undefined });
    expect((await unrooted.getContent('registry/v2/repositories/app/link')).toString()).toBe('rooted');
    expect(await unrooted.stat('repositories/app/link')).toBeNull();
  });

  it('presigns GET and HEAD URLs that serve the object', async () => {
    const driver = s3.driver();
    await driver.putContent('blobs/presigned', Buffer.from('served directly'));
    const getUrl = await driver.redirectURL('blobs/presigned', { method: 'GET', expiresInSeconds: 300 });
    expect(getUrl).toMatch(/X-Amz-Signature=/);
    const response = await fetch(getUrl!);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('served directly');
    const headUrl = await driver.redirectURL('blobs/presigned', { method: 'HEAD', expiresInSeconds: 300 });
    const head = await fetch(headUrl!, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('15');
  });

  it('does not redirect when redirect is off, and refuses bad expiries', async () => {
    const driver = s3.driver({ redirect: false });
    expect(await driver.redirectURL('blobs/x', { method: 'GET', expiresInSeconds: 60 })).toBeNull();
    const redirecting = s3.driver();
    await expect(redirecting.redirectURL('blobs/x', { method: 'GET', expiresInSeconds: 0 })).rejects.toThrow(
      StorageError,
    );
    await expect(redirecting.redirectURL('blobs/x', { method: 'GET', expiresInSeconds: 8 * 86400 })).rejects.toThrow(
      /expiry/,
    );
  });

  it('validates its options with messages that name the problem', async () => {
    expect(() => new S3Driver(s3.options({ chunkSize: MiB }))).toThrow(/chunkSize/);
    expect(() => new S3Driver(s3.options({ bucket: '' }))).toThrow(/bucket/);
    expect(() => new S3Driver(s3.options({ endpoint: 'not a url' }))).toThrow(/endpoint/);
    expect(() => new S3Driver(s3.options({ secretKey: undefined }))).toThrow(/accessKey and secretKey/);
    expect(() => new S3Driver(s3.options({ rootDirectory: 'a/../b' }))).toThrow(/rootDirectory/);
    await expect(createStorageDriver({ driver: 'ftp' } as never)).rejects.toThrow(/unknown storage driver "ftp"/);
  });

  it('keeps a closed upload in the bucket alone, so any process can resume it', async () => {
    const first = await s3.driver().writer('uploads/session/data', false);
    await first.write(Buffer.alloc(7 * MiB, 1));
    await first.close();
    // A fresh client with no shared memory sees every byte, as a process on another host would.
    const elsewhere = s3.driver();
    expect((await elsewhere.stat('uploads/session/data'))?.size).toBe(7 * MiB);
    const resumed = await elsewhere.writer('uploads/session/data', true);
    await resumed.write(Buffer.alloc(MiB, 2));
    await resumed.commit();
    const tail = await readStream(await elsewhere.reader('uploads/session/data', 7 * MiB - 1));
    expect([...tail.subarray(0, 2)]).toEqual([1, 2]);
    expect(tail.length).toBe(MiB + 1);
  });
});
