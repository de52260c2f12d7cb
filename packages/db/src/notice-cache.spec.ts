import { describe, expect, it } from '@jest/globals';
import { type ListenHandlers } from './notification-hub.js';
import { NoticeCache } from './notice-cache.js';

/** A channel whose notices the test sends by hand, in place of PostgreSQL's. */
function channel() {
  let handlers: ListenHandlers | undefined;
  return {
    source: (h: ListenHandlers) => {
      handlers = h;
      return { close: () => Promise.resolve() };
    },
    connect: () => handlers!.onConnected(),
    disconnect: () => handlers!.onDisconnected(),
    notify: () => handlers!.onMessage(''),
  };
}

describe('NoticeCache', () => {
  it('keeps values only while every source is listened on, and drops them all on a notice', async () => {
    const a = channel();
    const b = channel();
    const cache = new NoticeCache<number>([a.source, b.source], 10);
    let reads = 0;
    const read = () => cache.get('k', () => Promise.resolve(++reads));
    expect(await read()).toBe(1);
    a.connect();
    expect(await read()).toBe(2);
    b.connect();
    expect(await read()).toBe(3);
    expect(await read()).toBe(3);
    b.notify();
    expect(await read()).toBe(4);
    a.disconnect();
    expect(await read()).toBe(5);
    expect(await read()).toBe(6);
    a.connect();
    expect(await read()).toBe(7);
    cache.clear();
    expect(await read()).toBe(8);
    await cache.close();
    expect(await read()).toBe(9);
    expect(await read()).toBe(10);
  });

  it('does not keep a value whose read overlapped a notice, and keeps null values', async () => {
    const a = channel();
    const cache = new NoticeCache<string | null>([a.source], 10);
    a.connect();
    let release!: () => void;
    const pending = cache.get('k', () => new Promise((resolve) => (release = () => resolve('old'))));
    a.notify();
    release();
    expect(await pending).toBe('old');
    expect(await cache.get('k', () => Promise.resolve(null))).toBeNull();
    expect(await cache.get('k', () => Promise.resolve('not read'))).toBeNull();
  });

  it('drops the oldest entry past its size', async () => {
    const a = channel();
    const cache = new NoticeCache<string>([a.source], 2);
    a.connect();
    for (const key of ['x', 'y', 'z']) await cache.get(key, () => Promise.resolve(key));
    expect(await cache.get('x', () => Promise.resolve('read again'))).toBe('read again');
    expect(await cache.get('z', () => Promise.resolve('not read'))).toBe('z');
  });
});
