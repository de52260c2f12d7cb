import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, startPrivatePostgres, type TestDatabase } from '@wharf/testkit';
import { type DataSource } from 'typeorm';
import { createDataSource, runMigrations } from './data-source.js';
import { RegistryRepository, UploadBusyError } from './repositories/registry.repository.js';
import { UPLOAD_LEASE_LOCK_SPACE, type UploadLeaseHolder } from './upload-lease-holder.js';

const LEASE_MS = 10 * 60_000;

/**
 * Another process that takes an upload's lease as a registry process does (its holder's lock on a connection of its
 * own, the lease naming it), reports `held`, and then waits to be killed.
 */
function spawnLeaseWriter(db: TestDatabase, uploadId: string, key: number): Promise<ChildProcess> {
  const script = `
    import pg from 'pg';
    const client = new pg.Client(JSON.parse(process.env.WRITER_DB));
    await client.connect();
    await client.query('SELECT pg_advisory_lock($1, $2)', [${UPLOAD_LEASE_LOCK_SPACE}, ${key}]);
    const { rowCount } = await client.query(
      "UPDATE registry_upload SET lease_owner = $2, lease_holder = $3, lease_until = now() + interval '10 minutes' WHERE id = $1",
      [process.env.WRITER_UPLOAD, '${randomUUID()}', ${key}],
    );
    if (rowCount !== 1) process.exit(3);
    process.stdout.write('held\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    // Where `pg` resolves from.
    cwd: join(dirname(fileURLToPath(import.meta.url)), '..'),
    env: {
      ...process.env,
      WRITER_UPLOAD: uploadId,
      WRITER_DB: JSON.stringify({
        host: db.host,
        port: db.port,
        user: db.username,
        password: db.password,
        database: db.database,
      }),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (data: Buffer) => {
      if (data.toString().includes('held')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`the lease writer exited (${code})`)));
  });
}

describe('upload leases held by processes', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let repo: RegistryRepository;
  const holders: UploadLeaseHolder[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('wharf_lease_spec');
    ds = createDataSource(db);
    await ds.initialize();
    await runMigrations(ds);
    repo = new RegistryRepository(ds);
  });

  afterAll(async () => {
    await Promise.all(holders.map((holder) => holder.close()));
    await ds?.destroy();
    await db?.drop();
  });

  function holder(): UploadLeaseHolder {
    const created = repo.uploadLeaseHolder();
    holders.push(created);
    return created;
  }

  async function newUpload(): Promise<string> {
    const id = randomUUID();
    await repo.createUpload(id, 'lib/leased', `uploads/${id}`);
    return id;
  }

  it('takes over at once a lease whose process was killed, and not before', async () => {
    const id = await newUpload();
    const key = 1 + Math.floor(Math.random() * (2 ** 31 - 2));
    const writer = await spawnLeaseWriter(db, id, key);
    const mine = await holder().current();
    try {
      await expect(repo.acquireUpload(id, 'lib/leased', randomUUID(), LEASE_MS, mine.key)).rejects.toBeInstanceOf(
        UploadBusyError,
      );
    } finally {
      writer.kill('SIGKILL');
    }
    const killedAt = Date.now();
    let session = null;
    // PostgreSQL ends the writer's session as soon as it reads the closed connection.
    while (session === null && Date.now() - killedAt < 2_000) {
      session = await repo.acquireUpload(id, 'lib/leased', randomUUID(), LEASE_MS, mine.key).catch((error) => {
        if (error instanceof UploadBusyError) return null;
        throw error;
      });
      if (session === null) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(session?.id).toBe(id);
  });

  it('keeps a lease while its holder lives, gives it over once the holder is gone, and lets leases without one expire', async () => {
    const id = await newUpload();
    const first = holder();
    const second = holder();
    const [a, b] = await Promise.all([first.current(), second.current()]);
    expect(a.key).not.toBe(b.key);
    const owner = randomUUID();
    expect(await repo.acquireUpload(id, 'lib/leased', owner, LEASE_MS, a.key)).not.toBeNull();
    await expect(repo.acquireUpload(id, 'lib/leased', randomUUID(), LEASE_MS, b.key)).rejects.toBeInstanceOf(
      UploadBusyError,
    );
    await first.close();
    expect(a.signal.aborted).toBe(true);
    const taker = randomUUID();
    expect((await repo.acquireUpload(id, 'lib/leased', taker, LEASE_MS, b.key))?.id).toBe(id);
    // The first writer's lease is gone: what it would record is not.
    expect(await repo.releaseUpload(id, owner, 99)).toBe(false);
    expect(await repo.releaseUpload(id, taker, 7)).toBe(true);
    expect((await repo.getUpload(id, 'lib/leased'))?.size).toBe(7);

    // A lease that names no holder (taken by an earlier version) is only given over once it expires.
    const legacy = randomUUID();
    expect(await repo.acquireUpload(id, 'lib/leased', legacy, 200)).not.toBeNull();
    await expect(repo.acquireUpload(id, 'lib/leased', randomUUID(), LEASE_MS, b.key)).rejects.toBeInstanceOf(
      UploadBusyError,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await repo.acquireUpload(id, 'lib/leased', randomUUID(), LEASE_MS, b.key)).not.toBeNull();
  });

  it('holds its lock on a server that asks for a password, as the embedded PostgreSQL of an installation does', async () => {
    const server = await startPrivatePostgres({ password: 'lease-holder-Secret-1' });
    const guarded = await createTestDatabase('wharf_lease_password', server);
    const dataSource = createDataSource(guarded);
    try {
      await dataSource.initialize();
      await runMigrations(dataSource);
      const passwordRepo = new RegistryRepository(dataSource);
      const leaseHolder = passwordRepo.uploadLeaseHolder();
      try {
        const hold = await leaseHolder.current();
        const id = randomUUID();
        await passwordRepo.createUpload(id, 'lib/guarded', `uploads/${id}`);
        expect((await passwordRepo.acquireUpload(id, 'lib/guarded', randomUUID(), LEASE_MS, hold.key))?.id).toBe(id);
      } finally {
        await leaseHolder.close();
      }
    } finally {
      if (dataSource.isInitialized) await dataSource.destroy();
      await guarded.drop().catch(() => undefined);
      await server.destroy();
    }
  });
});
