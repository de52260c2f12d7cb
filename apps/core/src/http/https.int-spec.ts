import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { parseConfig } from '@wharf/config';
import { type TestCa, type TestServerCertificate, createTestCa, freePort, issueTestCertificate } from '@wharf/testkit';
import { startCoreServer } from '../core.server.js';
import { loadTlsMaterial } from './tls.js';
import { type TestCore, basicAuth, startTestCore } from '../testing/test-core.js';

/** Starting a server (database, migrations, admin hash) takes seconds on a busy machine. */
const SERVER_TIMEOUT_MS = 60_000;
jest.setTimeout(30_000);

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** SHA-256 fingerprint of the certificate the server presented. */
  fingerprint256: string;
  protocol: string | null;
}

interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** TLS settings of the client: the CA it trusts, protocol versions, ciphers. */
  tls?: ConnectionOptions;
}

/** One HTTPS request on a fresh connection, trusting only what `options.tls` names. */
function send(url: string, options: SendOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers, agent: false, ...options.tls },
      (res) => {
        const socket = res.socket as TLSSocket;
        const fingerprint256 = socket.getPeerCertificate().fingerprint256;
        const protocol = socket.getProtocol();
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('error', reject);
        res.once('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            fingerprint256,
            protocol,
          }),
        );
      },
    );
    req.once('error', reject);
    req.end(options.body);
  });
}

/** One plain HTTP request. */
function sendPlain(
  url: string,
  options: Omit<SendOptions, 'tls'> = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('error', reject);
      res.once('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.once('error', reject);
    req.end(options.body);
  });
}

/** A TLS handshake alone: the protocol and cipher agreed, or the error that ended it. */
function handshake(port: number, options: ConnectionOptions): Promise<{ protocol: string | null; cipher: string }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ...options }, () => {
      const result = { protocol: socket.getProtocol(), cipher: socket.getCipher().name };
      socket.end();
      resolve(result);
    });
    socket.once('error', reject);
  });
}

/** Sends raw bytes on a new TCP connection and gives what came back until the server closed it or went quiet. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port }, () => socket.write(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (Buffer.concat(chunks).includes('\r\n\r\n')) socket.end();
    });
    socket.once('error', reject);
    socket.once('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

describe('core over HTTPS', () => {
  let dir: string;
  let ca: TestCa;
  let first: TestServerCertificate;
  let core: TestCore;
  let httpsPort: number;
  let live: { certificate: string; key: string };
  let trust: ConnectionOptions;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-https-'));
    ca = await createTestCa(join(dir, 'ca'));
    first = await issueTestCertificate(ca, join(dir, 'first'), { commonName: 'first' });
    // The files core reads, replaced later to test a reload.
    await mkdir(join(dir, 'live'));
    live = { certificate: join(dir, 'live', 'server.crt'), key: join(dir, 'live', 'server.key') };
    await copyFile(first.chainPath, live.certificate);
    await copyFile(first.keyPath, live.key);
    httpsPort = await freePort();
    core = await startTestCore({
      https: { port: httpsPort, certificate: live.certificate, private_key: live.key },
    });
    trust = { ca: ca.pem };
  }, SERVER_TIMEOUT_MS);

  afterAll(async () => {
    await core?.close();
    await rm(dir, { recursive: true, force: true });
  }, SERVER_TIMEOUT_MS);

  it('serves the API over TLS 1.2 or later with a certificate the test CA verifies, and sends HSTS', async () => {
    expect(core.server.url).toBe(`https://127.0.0.1:${httpsPort}`);
    for (const host of ['127.0.0.1', 'localhost']) {
      const answer = await send(`https://${host}:${httpsPort}/api/v2.0/ping`, { tls: trust });
      expect(answer).toMatchObject({ status: 200, body: 'Pong', fingerprint256: first.fingerprint256 });
      expect(['TLSv1.2', 'TLSv1.3']).toContain(answer.protocol);
      expect(answer.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    }
    // A client that trusts the system's CAs only refuses it: nothing is served without TLS verification by accident.
    await expect(send(`https://127.0.0.1:${httpsPort}/api/v2.0/ping`)).rejects.toThrow(/certificate/i);
  });

  it('refuses TLS 1.1 and older', async () => {
    const legacy: ConnectionOptions = {
      ...trust,
      minVersion: 'TLSv1',
      maxVersion: 'TLSv1.1',
      // The client's own security level would refuse TLS 1.1 before the server is asked.
      ciphers: 'DEFAULT@SECLEVEL=0',
    };
    await expect(handshake(httpsPort, legacy)).rejects.toThrow(/protocol|version|alert/i);
    await expect(handshake(httpsPort, { ...trust, maxVersion: 'TLSv1.2' })).resolves.toMatchObject({
      protocol: 'TLSv1.2',
    });
  });

  it('accepts the TLS 1.2 CBC suites by default (strong_ssl_ciphers is off)', async () => {
    await expect(
      handshake(httpsPort, { ...trust, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA256' }),
    ).resolves.toEqual({ protocol: 'TLSv1.2', cipher: 'ECDHE-RSA-AES128-SHA256' });
  });

  it('serves the registry, with a token realm on the HTTPS address, and its token service', async () => {
    const challenge = await send(`https://127.0.0.1:${httpsPort}/v2/`, { tls: trust });
    expect(challenge.status).toBe(401);
    expect(challenge.headers['www-authenticate']).toContain(`realm="https://127.0.0.1:${httpsPort}/service/token"`);
    expect(challenge.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');

    const token = await send(`https://127.0.0.1:${httpsPort}/service/token?service=harbor-registry`, {
      tls: trust,
      headers: { authorization: basicAuth(core.admin) },
    });
    expect(token.status).toBe(200);
    const { token: jwt } = JSON.parse(token.body) as { token: string };
    const authorized = await send(`https://127.0.0.1:${httpsPort}/v2/`, {
      tls: trust,
      headers: { authorization: `Bearer ${jwt}` },
    });
    expect(authorized.status).toBe(200);
  });

  it('answers every request on the HTTP port with a 308 to the configured HTTPS address, whatever the Host', async () => {
    const base = `https://127.0.0.1:${httpsPort}`;
    expect(core.server.httpUrl).not.toBe(core.server.url);
    const body = JSON.stringify({ project_name: 'redirected', metadata: { public: 'false' } });
    const post = await sendPlain(`${core.server.httpUrl}/api/v2.0/projects?from=http`, {
      method: 'POST',
      headers: { host: 'evil.example.com', 'content-type': 'application/json', authorization: basicAuth(core.admin) },
      body,
    });
    expect(post.status).toBe(308);
    expect(post.headers.location).toBe(`${base}/api/v2.0/projects?from=http`);
    expect(post.headers['strict-transport-security']).toBeUndefined();

    // A client following the redirect repeats the same method and body, and the project is created over HTTPS.
    const followed = await send(post.headers.location ?? '', {
      method: 'POST',
      tls: trust,
      headers: { 'content-type': 'application/json', authorization: basicAuth(core.admin) },
      body,
    });
    expect(followed.status).toBe(201);

    for (const method of ['GET', 'HEAD', 'PUT', 'DELETE']) {
      const answer = await sendPlain(`${core.server.httpUrl}/v2/library/app/manifests/1.0`, { method });
      expect({ method, status: answer.status, location: answer.headers.location, body: answer.body }).toEqual({
        method,
        status: 308,
        location: `${base}/v2/library/app/manifests/1.0`,
        body: '',
      });
    }

    // An absolute-form target keeps only its path and query.
    const absolute = await rawExchange(
      portOf(core.server.httpUrl),
      'GET http://evil.example.com/api/v2.0/ping?x=1 HTTP/1.1\r\nHost: evil.example.com\r\n\r\n',
    );
    expect(absolute).toMatch(/^HTTP\/1\.1 308 /);
    expect(absolute).toContain(`\r\nLocation: ${base}/api/v2.0/ping?x=1\r\n`);
  });

  it('marks the session cookie Secure', async () => {
    const answer = await send(`https://127.0.0.1:${httpsPort}/c/login`, {
      method: 'POST',
      tls: trust,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ principal: core.admin.username, password: core.admin.password }).toString(),
    });
    expect(answer.status).toBe(200);
    const cookies = answer.headers['set-cookie'] ?? [];
    expect(cookies).toEqual([expect.stringMatching(/^sid=[^;]+;.*; Secure(;|$)/)]);
  });

  it('serves the last certificate of the chain as ca.crt to anyone, and says so in systeminfo', async () => {
    const answer = await send(`https://127.0.0.1:${httpsPort}/api/v2.0/systeminfo/getcert`, { tls: trust });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/octet-stream');
    expect(answer.headers['content-disposition']).toBe('attachment; filename="ca.crt"');
    expect(new X509Certificate(answer.body).fingerprint256).toBe(new X509Certificate(ca.pem).fingerprint256);

    const info = await send(`https://127.0.0.1:${httpsPort}/api/v2.0/systeminfo`, {
      tls: trust,
      headers: { authorization: basicAuth(core.admin) },
    });
    expect(JSON.parse(info.body)).toMatchObject({
      has_ca_root: true,
      external_url: `https://127.0.0.1:${httpsPort}`,
      registry_url: `127.0.0.1:${httpsPort}`,
    });
  });

  it('serves a new certificate after a reload, keeps open connections, and keeps the old pair when the new one is bad', async () => {
    const url = `https://127.0.0.1:${httpsPort}/api/v2.0/ping`;
    // A connection opened before the reload, kept alive across it.
    const open = tlsConnect({ host: '127.0.0.1', port: httpsPort, servername: 'localhost', ...trust });
    await new Promise<void>((resolve, reject) => {
      open.once('secureConnect', resolve);
      open.once('error', reject);
    });
    const onOpen = async (): Promise<string> => {
      const answered = new Promise<string>((resolve) => {
        let text = '';
        const onData = (chunk: Buffer) => {
          text += chunk.toString('utf8');
          if (text.endsWith('Pong')) {
            open.off('data', onData);
            resolve(text);
          }
        };
        open.on('data', onData);
      });
      open.write('GET /api/v2.0/ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      return answered;
    };
    await expect(onOpen()).resolves.toMatch(/^HTTP\/1\.1 200 /);

    const second = await issueTestCertificate(ca, join(dir, 'second'), { commonName: 'second' });
    await copyFile(second.chainPath, live.certificate);
    await copyFile(second.keyPath, live.key);
    await core.server.reloadCertificate();
    expect((await send(url, { tls: trust })).fingerprint256).toBe(second.fingerprint256);
    await expect(onOpen()).resolves.toMatch(/^HTTP\/1\.1 200 /);
    open.destroy();

    // A certificate with the key of another: refused, and the second pair stays.
    const third = await issueTestCertificate(ca, join(dir, 'third'), { commonName: 'third' });
    await copyFile(third.chainPath, live.certificate);
    await copyFile(first.keyPath, live.key);
    await expect(core.server.reloadCertificate()).rejects.toThrow(
      `https.private_key: ${live.key} is not the key of the certificate in ${live.certificate}`,
    );
    await writeFile(live.key, 'not a key\n');
    await expect(core.server.reloadCertificate()).rejects.toThrow(/^https\.private_key: .* is not an unencrypted PEM/);
    await rm(live.certificate);
    await expect(core.server.reloadCertificate()).rejects.toThrow(/^https\.certificate: cannot read .*ENOENT/);
    const after = await send(url, { tls: trust });
    expect(after).toMatchObject({ status: 200, fingerprint256: second.fingerprint256 });
  });
});

describe('core with strong_ssl_ciphers and an https.ca_certificate', () => {
  let dir: string;
  let ca: TestCa;
  let core: TestCore;
  let httpsPort: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-https-strong-'));
    ca = await createTestCa(join(dir, 'ca'));
    const server = await issueTestCertificate(ca, join(dir, 'server'));
    httpsPort = await freePort();
    core = await startTestCore({
      external_url: `https://localhost:${httpsPort}`,
      https: {
        port: httpsPort,
        // The server's certificate alone: its last certificate is not the CA.
        certificate: server.certificatePath,
        private_key: server.keyPath,
        ca_certificate: ca.certificatePath,
        strong_ssl_ciphers: true,
      },
    });
  }, SERVER_TIMEOUT_MS);

  afterAll(async () => {
    await core?.close();
    await rm(dir, { recursive: true, force: true });
  }, SERVER_TIMEOUT_MS);

  it('refuses TLS 1.2 suites without ECDHE or AEAD, and accepts the strong ones and TLS 1.3', async () => {
    const trust = { ca: ca.pem, maxVersion: 'TLSv1.2' } as const;
    for (const cipher of ['ECDHE-RSA-AES128-SHA256', 'ECDHE-RSA-AES256-SHA384', 'AES128-GCM-SHA256']) {
      await expect(handshake(httpsPort, { ...trust, ciphers: cipher })).rejects.toThrow(/handshake|cipher|alert/i);
    }
    for (const cipher of [
      'ECDHE-RSA-AES128-GCM-SHA256',
      'ECDHE-RSA-AES256-GCM-SHA384',
      'ECDHE-RSA-CHACHA20-POLY1305',
    ]) {
      await expect(handshake(httpsPort, { ...trust, ciphers: cipher })).resolves.toEqual({
        protocol: 'TLSv1.2',
        cipher,
      });
    }
    await expect(handshake(httpsPort, { ca: ca.pem })).resolves.toMatchObject({ protocol: 'TLSv1.3' });
  });

  it('serves https.ca_certificate as ca.crt, and redirects HTTP to external_url', async () => {
    const answer = await send(`https://localhost:${httpsPort}/api/v2.0/systeminfo/getcert`, { tls: { ca: ca.pem } });
    expect(answer.status).toBe(200);
    expect(answer.body).toBe(ca.pem);

    const redirect = await sendPlain(`${core.server.httpUrl}/c/login`, { method: 'POST', body: 'principal=a' });
    expect(redirect.status).toBe(308);
    expect(redirect.headers.location).toBe(`https://localhost:${httpsPort}/c/login`);
  });
});

describe('core with https and an http external_url', () => {
  let dir: string;
  let ca: TestCa;
  let core: TestCore;
  let httpsPort: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-https-external-'));
    ca = await createTestCa(join(dir, 'ca'));
    const server = await issueTestCertificate(ca, join(dir, 'server'));
    httpsPort = await freePort();
    core = await startTestCore({
      external_url: 'http://registry.example.com',
      https: { port: httpsPort, certificate: server.chainPath, private_key: server.keyPath },
    });
  }, SERVER_TIMEOUT_MS);

  afterAll(async () => {
    await core?.close();
    await rm(dir, { recursive: true, force: true });
  }, SERVER_TIMEOUT_MS);

  it('still redirects to HTTPS and marks the session cookie Secure', async () => {
    const redirect = await sendPlain(`${core.server.httpUrl}/c/login`);
    expect(redirect.headers.location).toBe(`https://127.0.0.1:${httpsPort}/c/login`);
    const answer = await send(`https://127.0.0.1:${httpsPort}/c/login`, {
      method: 'POST',
      tls: { ca: ca.pem },
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ principal: core.admin.username, password: core.admin.password }).toString(),
    });
    expect(answer.status).toBe(200);
    expect(answer.headers['set-cookie']).toEqual([expect.stringMatching(/; Secure(;|$)/)]);
  });
});

describe('core refuses to start with an unusable certificate', () => {
  let dir: string;
  let server: TestServerCertificate;
  let other: TestServerCertificate;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-https-bad-'));
    const ca = await createTestCa(join(dir, 'ca'));
    server = await issueTestCertificate(ca, join(dir, 'server'));
    other = await issueTestCertificate(ca, join(dir, 'other'));
    await writeFile(join(dir, 'empty.crt'), 'no certificate here\n');
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function start(certificate: string, key: string): Promise<unknown> {
    // No database or Redis is reached: the certificate is checked before anything else starts.
    const { config } = parseConfig(
      JSON.stringify({
        hostname: '127.0.0.1',
        harbor_admin_password: 'unused',
        database: { password: 'unused' },
        https: { port: 1, certificate, private_key: key },
      }),
      'test harbor.yml',
      {},
    );
    return startCoreServer(config);
  }

  it('warns, without refusing it, about a certificate that is not valid for the host clients use', async () => {
    const https = { port: 1, certificateFile: server.chainPath, privateKeyFile: server.keyPath, strongCiphers: false };
    expect((await loadTlsMaterial(https, 'localhost')).warnings).toEqual([]);
    expect((await loadTlsMaterial(https, '127.0.0.1')).warnings).toEqual([]);
    expect((await loadTlsMaterial(https, 'reg.example.com')).warnings).toEqual([
      expect.stringMatching(/^https\.certificate: the certificate \(CN=localhost\) is not valid for reg\.example\.com/),
    ]);
  });

  it('names the key whose file is missing, unreadable, not a certificate, or not the certificate key', async () => {
    await expect(start(join(dir, 'missing.crt'), server.keyPath)).rejects.toThrow(
      `https.certificate: cannot read ${join(dir, 'missing.crt')}: ENOENT`,
    );
    await expect(start(server.certificatePath, dir)).rejects.toThrow(`https.private_key: cannot read ${dir}: EISDIR`);
    await expect(start(join(dir, 'empty.crt'), server.keyPath)).rejects.toThrow(
      `https.certificate: ${join(dir, 'empty.crt')} holds no PEM certificate`,
    );
    await expect(start(server.certificatePath, other.keyPath)).rejects.toThrow(
      `https.private_key: ${other.keyPath} is not the key of the certificate in ${server.certificatePath}`,
    );
  });
});
