import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type Server, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { headLoad } from './head-load.js';

describe('headLoad', () => {
  let server: Server;
  let base: string;
  let seen = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen++;
      const found = req.url === '/v2/r/manifests/latest' && req.method === 'HEAD';
      // Like a registry: HEAD announces the manifest's length but sends no body.
      res.writeHead(found ? 200 : 404, { 'content-length': '1234', 'content-type': 'application/json' });
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('completes HEAD requests whose Content-Length announces a body that never comes', async () => {
    seen = 0;
    const result = await headLoad({ url: `${base}/v2/r/manifests/latest`, headers: {}, connections: 4, seconds: 0.5 });
    expect(result.requests).toBeGreaterThan(50);
    expect(result.requests).toBe(seen);
    expect(result.requestsPerSecond).toBeGreaterThan(100);
    expect(result.p99Ms).toBeGreaterThan(0);
    expect(result.p99Ms).toBeLessThan(500);
  });

  it('fails on an answer other than 200, quoting the status line', async () => {
    await expect(
      headLoad({ url: `${base}/v2/r/manifests/missing`, headers: {}, connections: 2, seconds: 0.2 }),
    ).rejects.toThrow('answered "HTTP/1.1 404 Not Found"');
  });
});
