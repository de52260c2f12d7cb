import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PeerCertificate, connect as tlsConnect } from 'node:tls';
import {
  type CoreProcess,
  type TestCa,
  type TestDatabase,
  type TestImageLayout,
  buildImageLayout,
  createTestCa,
  createTestDatabase,
  issueTestCertificate,
  repoRoot,
  startWharfCore,
} from '@wharf/testkit';
import { CommandError, ContainerTool, Skopeo, run } from './support/clients.js';
import { sha256 } from './support/http.js';
import { e2eTarget } from './support/target.js';

jest.setTimeout(300_000);

/** The certificate a new TLS connection to 127.0.0.1:port is shown, verified against `ca`. */
function servedCertificate(port: number, ca: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca }, () => {
      const certificate = socket.getPeerCertificate();
      socket.end();
      resolve(certificate);
    });
    socket.once('error', reject);
  });
}

/** Core's HTTPS port is Wharf's alone; the reference registry is run over plain HTTP. */
const describeCore = e2eTarget() === 'wharf' ? describe : describe.skip;

describeCore('wharf core over HTTPS with skopeo and podman, the CA trusted through a certs.d directory', () => {
  let workDir: string;
  let database: TestDatabase;
  let ca: TestCa;
  let core: CoreProcess;
  let host: string;
  let live: { certificate: string; key: string };
  /** `<certs.d>/<host:port>`, holding ca.crt as downloaded from the getcert endpoint. */
  let certDir: string;
  let skopeo: Skopeo;
  let podman: ContainerTool;
  let image: TestImageLayout;
  let creds: string;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'wharf-e2e-https-'));
    database = await createTestDatabase('wharf_e2e_https');
    ca = await createTestCa(join(workDir, 'ca'));
    const server = await issueTestCertificate(ca, join(workDir, 'first'), { commonName: 'first' });
    await mkdir(join(workDir, 'tls'));
    live = { certificate: join(workDir, 'tls', 'server.crt'), key: join(workDir, 'tls', 'server.key') };
    await copyFile(server.chainPath, live.certificate);
    await copyFile(server.keyPath, live.key);
    core = await startWharfCore({
      database,
      dataDir: join(workDir, 'data'),
      // The reload is logged at info.
      extraConfig: { log: { level: 'info' } },
      https: { certificate: live.certificate, privateKey: live.key, ca: ca.pem },
    });
    host = core.host;
    creds = `${core.admin.username}:${core.admin.password}`;
    skopeo = await Skopeo.create(await mkdtemp(join(workDir, 'skopeo-')));
    podman = await ContainerTool.create('podman', await mkdtemp(join(workDir, 'podman-')));
    image = await buildImageLayout(join(workDir, 'app'), {
      seed: 'e2e-https-app',
      layerSizes: [1024, 300 * 1024],
      ref: '1.0',
    });
  });

  afterAll(async () => {
    await Promise.allSettled([core?.stop()]);
    await Promise.allSettled([database?.drop(), rm(workDir, { recursive: true, force: true })]);
  });

  it('serves the CA certificate at /api/v2.0/systeminfo/getcert, which a certs.d directory then trusts', async () => {
    expect(core.url).toBe(`https://${host}`);
    certDir = join(workDir, 'certs.d', host);
    await mkdir(certDir, { recursive: true });
    // As a user would fetch it once, having checked its fingerprint out of band.
    await run('curl', [
      '--silent',
      '--show-error',
      '--fail',
      '--cacert',
      ca.certificatePath,
      '--output',
      join(certDir, 'ca.crt'),
      `${core.url}/api/v2.0/systeminfo/getcert`,
    ]);
    expect(await readFile(join(certDir, 'ca.crt'), 'utf8')).toBe(ca.pem);

    const created = await run('curl', [
      '--silent',
      '--show-error',
      '--cacert',
      join(certDir, 'ca.crt'),
      '--user',
      creds,
      '--header',
      'content-type: application/json',
      '--data',
      JSON.stringify({ project_name: 'library', metadata: { public: 'false' } }),
      '--write-out',
      '%{http_code}',
      `${core.url}/api/v2.0/projects`,
    ]);
    expect(created.stdout).toBe('201');
  });

  it('refuses a client that does not trust the CA: TLS is verified, not skipped', async () => {
    const refused = skopeo.run(['inspect', '--raw', '--creds', creds, `docker://${host}/library/app:1.0`]);
    await expect(refused).rejects.toBeInstanceOf(CommandError);
    await expect(refused).rejects.toThrow(/x509|certificate/i);
  });

  it('takes a push from skopeo and serves the manifest with the digest pushed', async () => {
    await skopeo.run([
      'copy',
      '--quiet',
      '--preserve-digests',
      '--dest-cert-dir',
      certDir,
      '--dest-creds',
      creds,
      `oci:${image.path}:1.0`,
      `docker://${host}/library/app:1.0`,
    ]);
    const raw = await skopeo.run([
      'inspect',
      '--raw',
      '--cert-dir',
      certDir,
      '--creds',
      creds,
      `docker://${host}/library/app:1.0`,
    ]);
    expect(sha256(Buffer.from(raw))).toBe(image.manifest.digest);
  });

  it('lets skopeo pull it back with every blob verified', async () => {
    const out = join(workDir, 'pulled');
    await skopeo.run([
      'copy',
      '--quiet',
      '--src-cert-dir',
      certDir,
      '--src-creds',
      creds,
      `docker://${host}/library/app:1.0`,
      `oci:${out}:1.0`,
    ]);
    const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    expect(index.manifests.map((m) => m.digest)).toEqual([image.manifest.digest]);
    for (const layer of image.layers) {
      const bytes = await readFile(join(out, 'blobs', 'sha256', layer.digest.slice('sha256:'.length)));
      expect(sha256(bytes)).toBe(layer.digest);
    }
  });

  it('lets podman pull it and push it to another repository, digests verified', async () => {
    await podman.run([
      'pull',
      '--quiet',
      '--cert-dir',
      certDir,
      '--creds',
      creds,
      '--signature-policy',
      podman.policy,
      `${host}/library/app:1.0`,
    ]);
    expect(await podman.run(['image', 'inspect', '--format', '{{.Digest}}', `${host}/library/app:1.0`])).toBe(
      image.manifest.digest,
    );

    await podman.run(['tag', `${host}/library/app:1.0`, `${host}/library/copy:2.0`]);
    const digestFile = join(workDir, 'podman.digest');
    await podman.run([
      'push',
      '--quiet',
      '--cert-dir',
      certDir,
      '--creds',
      creds,
      '--signature-policy',
      podman.policy,
      '--digestfile',
      digestFile,
      `${host}/library/copy:2.0`,
    ]);
    const pushed = (await readFile(digestFile, 'utf8')).trim();
    const served = await skopeo.run([
      'inspect',
      '--raw',
      '--cert-dir',
      certDir,
      '--creds',
      creds,
      `docker://${host}/library/copy:2.0`,
    ]);
    expect(sha256(Buffer.from(served))).toBe(pushed);
  });

  it('is healthy for wharf health, which checks the HTTPS listener and its certificate', async () => {
    const { stdout } = await run(join(repoRoot(), 'apps', 'cli', 'bin', 'wharf'), [
      'health',
      'core',
      '--config',
      join(workDir, 'data', 'harbor.yml'),
    ]);
    expect(stdout).toBe(`core: healthy (${core.url}/api/v2.0/ping answered Pong)\n`);
  });

  it('serves a renewed certificate after SIGHUP, without a restart', async () => {
    const port = Number(new URL(core.url).port);
    const renewed = await issueTestCertificate(ca, join(workDir, 'renewed'), { commonName: 'renewed' });
    await writeFile(live.certificate, await readFile(renewed.chainPath));
    await writeFile(live.key, await readFile(renewed.keyPath));
    const pid = core.pid;
    process.kill(pid, 'SIGHUP');
    const deadline = Date.now() + 10_000;
    let fingerprint = '';
    while (Date.now() < deadline) {
      fingerprint = (await servedCertificate(port, ca.pem)).fingerprint256;
      if (fingerprint === renewed.fingerprint256) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(fingerprint).toBe(renewed.fingerprint256);
    expect(core.pid).toBe(pid);
    expect(await readFile(core.logPath, 'utf8')).toContain('reloaded the certificate');

    // The same trust still works for clients, and the images are all there.
    const raw = await skopeo.run([
      'inspect',
      '--raw',
      '--cert-dir',
      certDir,
      '--creds',
      creds,
      `docker://${host}/library/app:1.0`,
    ]);
    expect(sha256(Buffer.from(raw))).toBe(image.manifest.digest);
  });
});
