import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type TestDatabase, createTestDatabase } from '@wharf/testkit';
import { type DataSource } from 'typeorm';
import { createDataSource } from './data-source.js';
import { type ListenHandlers, NotificationHub } from './notification-hub.js';

const APPLICATION = 'wharf-hub-spec';

/** What one subscriber heard, in order: `connected`, `disconnected`, or a notice's payload. */
function recorder(): ListenHandlers & { events: string[] } {
  const events: string[] = [];
  return {
    events,
    onMessage: (payload) => events.push(`notice ${payload}`),
    onConnected: () => events.push('connected'),
    onDisconnected: () => events.push('disconnected'),
  };
}

async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('NotificationHub', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let hub: NotificationHub;
  const first = recorder();
  const second = recorder();
  const other = recorder();

  const notify = (channel: string, payload: string) => ds.query(`SELECT pg_notify($1, $2)`, [channel, payload]);
  const connections = () =>
    ds.query<{ pid: number }[]>(
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`,
      [`${APPLICATION}-listener`],
    );

  beforeAll(async () => {
    db = await createTestDatabase('wharf_hub_spec');
    ds = createDataSource(db);
    await ds.initialize();
    hub = new NotificationHub({ ...db, applicationName: APPLICATION });
  });

  afterAll(async () => {
    await hub?.close();
    await ds?.destroy();
    await db?.drop();
  });

  it('listens on every subscribed channel over one connection, and tells each subscriber once its channel is heard', async () => {
    hub.subscribe('hub_a', first);
    // While the connection is being made.
    hub.subscribe('hub_b', other);
    await until('both are connected', () => first.events.includes('connected') && other.events.includes('connected'));
    // On the live connection, to a channel already listened on.
    hub.subscribe('hub_a', second);
    await until('the late subscriber is connected', () => second.events.includes('connected'));

    await notify('hub_a', 'one');
    await notify('hub_b', 'two');
    await until('the notices arrive', () => first.events.length === 2 && other.events.length === 2);
    await until('the late subscriber hears its notice', () => second.events.length === 2);
    expect(first.events).toEqual(['connected', 'notice one']);
    expect(second.events).toEqual(['connected', 'notice one']);
    expect(other.events).toEqual(['connected', 'notice two']);
    expect(await connections()).toHaveLength(1);
  });

  it('reports a lost connection to every subscriber, and listens on every channel again', async () => {
    const [{ pid }] = await connections();
    await ds.query(`SELECT pg_terminate_backend($1)`, [pid]);
    await until('every subscriber is connected again', () =>
      [first, second, other].every((subscriber) => subscriber.events.at(-1) === 'connected'),
    );
    for (const subscriber of [first, second, other])
      expect(subscriber.events.slice(-2)).toEqual(['disconnected', 'connected']);
    await notify('hub_a', 'three');
    await notify('hub_b', 'four');
    await until('the notices arrive', () =>
      [first, second, other].every((subscriber) => subscriber.events.at(-1)?.startsWith('notice')),
    );
    expect(first.events.at(-1)).toBe('notice three');
    expect(second.events.at(-1)).toBe('notice three');
    expect(other.events.at(-1)).toBe('notice four');
    const after = await connections();
    expect(after).toHaveLength(1);
    expect(after[0].pid).not.toBe(pid);
  });

  it('stops telling a subscription that was closed', async () => {
    const late = recorder();
    const subscription = hub.subscribe('hub_c', late);
    await until('it is connected', () => late.events.includes('connected'));
    await subscription.close();
    await notify('hub_c', 'unheard');
    await notify('hub_b', 'heard');
    await until('the other notice arrives', () => other.events.at(-1) === 'notice heard');
    expect(late.events).toEqual(['connected']);
  });
});
