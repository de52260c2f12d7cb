import { describe, expect, it } from '@jest/globals';
import { parseWrkOutput } from './wrk.js';

const output = (p99: string, extra = ''): string => `Running 10s test @ http://127.0.0.1:5000/v2/r/manifests/latest
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.10ms    2.01ms  40.12ms   80.00%
    Req/Sec     7.90k   500.00     9.00k    70.00%
  Latency Distribution
     50%    3.80ms
     75%    4.90ms
     90%    6.10ms
     99%    ${p99}
  157000 requests in 10.00s, 150.00MB read
${extra}Requests/sec:  15700.12
Transfer/sec:     15.00MB
`;

describe('parseWrkOutput', () => {
  it('reads requests/s and the 99th percentile in milliseconds, whatever unit wrk chose', () => {
    expect(parseWrkOutput(output('12.50ms'))).toEqual({ requestsPerSecond: 15700.12, p99Ms: 12.5, requests: 157000 });
    expect(parseWrkOutput(output('850.00us')).p99Ms).toBeCloseTo(0.85);
    expect(parseWrkOutput(output('1.20s')).p99Ms).toBeCloseTo(1200);
  });

  it('refuses a run where the registry answered errors or connections failed', () => {
    expect(() => parseWrkOutput(output('1ms', '  Non-2xx or 3xx responses: 12\n'))).toThrow(/12 of 157000 requests/);
    expect(() => parseWrkOutput(output('1ms', '  Socket errors: connect 0, read 3, write 0, timeout 0\n'))).toThrow(
      /socket errors/,
    );
  });

  it('refuses a run that completed nothing', () => {
    expect(() => parseWrkOutput(output('0.00us').replace('157000 requests', '0 requests'))).toThrow(/no request/);
  });
});
