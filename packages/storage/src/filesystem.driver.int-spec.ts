import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { transformFile } from '@swc/core';
import { FilesystemDriver } from './filesystem.driver.js';
import { createStorageDriver } from './storage.factory.js';
import { describeStorageDriverContract } from './testing/driver-contract.js';
import { StorageError } from './types.js';

const temporaryRoots: string[] = [];

async function temporaryRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'wharf-fs-driver-'));
  temporaryRoots.push(root);
  return root;
}

afterAll(async () => {
  await Promise.all(temporaryRoots.map((root) => rm(root, { recursive: true, force: true })));
});

for (const directIO of [true, false]) {
  describeStorageDriverContract(
    `filesystem (direct I/O ${directIO ? 'on' : 'off'})`,
    async () => {
      const root = await temporaryRoot();
      return {
        createDriver: () => new FilesystemDriver(root, { directIO }),
        cleanup: () => rm(root, { recursive: true, force: true }),
      };
    },
    { sendTo: true },
  );
}

describe('FilesystemDriver', () => {
  it('stores objects as plain files under the root', async () => {
    const root = await temporaryRoot();
    const driver = await createStorageDriver({ driver: 'filesystem', rootDirectory: root });
    expect(driver.name).toBe('filesystem');
    await driver.putContent('blobs/sha256/ab/data', Buffer.from('bytes'));
    expect(await readFile(join(root, 'blobs/sha256/ab/data'), 'utf8')).toBe('bytes');
    expect(await readdir(join(root, 'blobs/sha256/ab'))).toEqual(['data']);
    expect(await driver.redirectURL('blobs/sha256/ab/data', { method: 'GET', expiresInSeconds: 60 })).toBeNull();
  });

  // Moves into a missing directory, started a few turns apart: a move's rename can miss the directory while its
  // open of that directory, a moment later, finds it (created by another move); the rename is then tried again.
  it('completes every move of a staggered burst into a directory none of them found', async () => {
    const driver = new FilesystemDriver(await temporaryRoot());
    const failures: string[] = [];
    for (let round = 0; round < 300; round++) {
      for (let i = 0; i < 8; i++) await driver.putContent(`uploads/${round}-${i}`, Buffer.from('x'));
      await Promise.all(
        Array.from({ length: 8 }, async (_, i) => {
          for (let turn = 0; turn < (i * 7 + round) % 5; turn++) await new Promise((resolve) => setImmediate(resolve));
          await driver
            .move(`uploads/${round}-${i}`, `blobs/${round}/${i % 2}`)
            .catch((error: unknown) => failures.push(String(error)));
        }),
      );
    }
    expect(failures).toEqual([]);
    // Each round syncs a new directory and its parent; 300 rounds take 3–4 s here and more on a busy CI host.
  }, 30_000);

  it('puts every byte at its place when a writer that need not keep order writes pieces side by side', async () => {
    const root = await temporaryRoot();
    const driver = new FilesystemDriver(root);
    const writer = await driver.writer('uploads/any-order', false, { inOrder: false });
    const sizes = [1024 * 1024, 128 * 1024, 5, 3 * 1024 * 1024 + 1, 128 * 1024 + 9, 700_000, 1];
    const pieces = sizes.map((size) => randomBytes(size));
    await Promise.all(pieces.map((piece) => writer.write(piece)));
    await writer.commit();
    expect((await readFile(join(root, 'uploads/any-order'))).equals(Buffer.concat(pieces))).toBe(true);
  });

  it('writes an object again into a directory removed behind its back', async () => {
    const root = await temporaryRoot();
    const driver = new FilesystemDriver(root);
    await driver.putContent('meta/removed/first', Buffer.from('one'));
    await rm(join(root, 'meta'), { recursive: true });
    await driver.putContent('meta/removed/second', Buffer.from('two'));
    expect(await readFile(join(root, 'meta/removed/second'), 'utf8')).toBe('two');
  });

  it('refuses an empty root directory', () => {
    expect(() => new FilesystemDriver('')).toThrow(StorageError);
  });

  it('puts bytes on disk in large batches while the writer is still open', async () => {
    const root = await temporaryRoot();
    const writer = await new FilesystemDriver(root).writer('upload', false);
    await writer.write(Buffer.alloc(1000, 1));
    expect((await readFile(join(root, 'upload'))).length).toBe(0);
    await writer.write(Buffer.alloc(2 * 1024 * 1024, 2));
    expect((await readFile(join(root, 'upload'))).length).toBeGreaterThanOrEqual(2 * 1024 * 1024);
    await writer.close();
    expect((await readFile(join(root, 'upload'))).length).toBe(1000 + 2 * 1024 * 1024);
  });
});

/**
 * Crash safety is about what another process finds after this one dies, so these tests run the
 * driver in a child process and kill it with SIGKILL mid-work.
 */
describe('FilesystemDriver after a crash', () => {
  let moduleDirectory: string;

  beforeAll(async () => {
    // The child runs the driver's own source, compiled to plain JavaScript for plain Node.
    moduleDirectory = await temporaryRoot();
    const sourceDirectory = dirname(fileURLToPath(import.meta.url));
    for (const name of ['types', 'paths', 'writer-operations', 'io-buffers', 'filesystem.driver']) {
      const { code } = await transformFile(join(sourceDirectory, `${name}.ts`), {
        swcrc: false,
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'es6' },
      });
      await writeFile(join(moduleDirectory, `${name}.js`), code);
    }
    await writeFile(join(moduleDirectory, 'package.json'), '{"type":"module"}');
  });

  /** Runs script (which gets `driver`) in a child, kills it once it prints "ready", after delayMs. */
  async function crashChild(root: string, script: string, delayMs: number): Promise<void> {
    const file = join(moduleDirectory, `child-${Date.now()}-${Math.random().toString(36).slice(2)}.js`);
    await writeFile(
      file,
      `import { FilesystemDriver } from './filesystem.driver.js';\n` +
        `const driver = new FilesystemDriver(${JSON.stringify(root)});\n${script}\n` +
        'setInterval(() => {}, 1000);\n',
    );
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (data: Buffer) => {
        if (data.toString().includes('ready')) resolve();
      });
      child.on('exit', () => reject(new Error(`child exited before it was killed: ${stderr}`)));
    });
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
  }

  it('leaves nothing at the destination when a writer dies before commit', async () => {
    const root = await temporaryRoot();
    await crashChild(
      root,
      `const writer = await driver.writer('uploads/u1/data', false);
       for (let i = 0; i < 12; i++) await writer.write(Buffer.alloc(256 * 1024, 7));
       console.log('ready');`,
      0,
    );
    const driver = new FilesystemDriver(root);
    expect(await driver.stat('blobs/sha256/aa/data')).toBeNull();
    await expect(driver.list('blobs')).rejects.toThrow('path not found');
    // What reached the upload file is a clean prefix of what was written: whole batches only.
    const upload = await driver.getContent('uploads/u1/data');
    expect(upload.length).toBeLessThanOrEqual(3 * 1024 * 1024);
    expect(upload.length % (1024 * 1024)).toBe(0);
    expect(upload.every((byte) => byte === 7)).toBe(true);
  });

  it('never leaves a torn object when putContent dies mid-write', async () => {
    const root = await temporaryRoot();
    const size = 16 * 1024 * 1024;
    const driver = new FilesystemDriver(root);
    await driver.putContent('blobs/target/data', Buffer.alloc(size, 1));
    await crashChild(
      root,
      `console.log('ready');
       for (let i = 2; ; i++) await driver.putContent('blobs/target/data', Buffer.alloc(${size}, i % 256));`,
      150,
    );
    const content = await driver.getContent('blobs/target/data');
    expect(content.length).toBe(size);
    const first = content[0];
    expect(content.every((byte) => byte === first)).toBe(true);
    // An interrupted write leaves at most a hidden temporary file, which listing never shows.
    expect(await driver.list('blobs/target')).toEqual(['blobs/target/data']);
  });
});
