import { describe, expect, it } from '@jest/globals';
import { HEARTBEAT_KEY_PREFIX, heartbeatKey, parseHeartbeat } from './heartbeat.js';

describe('heartbeatKey', () => {
  it('names the host and pid under the jobservice prefix', () => {
    expect(heartbeatKey('reg-1.example.com', 4242)).toBe(`${HEARTBEAT_KEY_PREFIX}reg-1.example.com:4242`);
    expect(HEARTBEAT_KEY_PREFIX).toBe('wharf:jobservice:heartbeat:');
  });

  it('refuses hosts and pids that would make the key ambiguous', () => {
    expect(() => heartbeatKey('a:b', 1)).toThrow(/invalid host name/);
    expect(() => heartbeatKey('host*', 1)).toThrow(/invalid host name/);
    expect(() => heartbeatKey('host', 0)).toThrow(/invalid pid/);
    expect(() => heartbeatKey('host', 1.5)).toThrow(/invalid pid/);
  });
});

describe('parseHeartbeat', () => {
  const beat = {
    host: 'h',
    pid: 7,
    startedAt: '2026-01-01T00:00:00.000Z',
    beatAt: '2026-01-01T00:00:10.000Z',
    jobTypes: [],
  };

  it('reads what a jobservice writes', () => {
    expect(parseHeartbeat(JSON.stringify(beat))).toEqual(beat);
  });

  it('ignores a missing key, bad JSON and values of another shape', () => {
    expect(parseHeartbeat(null)).toBeUndefined();
    expect(parseHeartbeat('{')).toBeUndefined();
    expect(parseHeartbeat('"text"')).toBeUndefined();
    expect(parseHeartbeat(JSON.stringify({ ...beat, pid: '7' }))).toBeUndefined();
    expect(parseHeartbeat(JSON.stringify({ ...beat, jobTypes: [1] }))).toBeUndefined();
  });
});
