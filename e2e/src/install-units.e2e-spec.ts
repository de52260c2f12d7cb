import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '@wharf/testkit';
import { describeRun, runInstallScript, toYaml } from './install-kit.js';

const execFileAsync = promisify(execFile);

/** A unit file as section → key → every value given for the key. */
type Unit = Map<string, Map<string, string[]>>;

function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const line of text.split('\n')) {
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1], section);
    } else if (section && /^\w+=/.test(line)) {
      const key = line.slice(0, line.indexOf('='));
      section.set(key, [...(section.get(key) ?? []), line.slice(key.length + 1)]);
    }
  }
  return unit;
}

function value(unit: Unit | undefined, section: string, key: string): string | undefined {
  return unit?.get(section)?.get(key)?.join('\n');
}

/** install.sh --print-units: the unit files it would write, by file name. */
async function printUnits(dir: string, config: Record<string, unknown>): Promise<Map<string, string>> {
  const file = join(dir, `${Object.keys(config).length}-${Date.now()}.yml`);
  await writeFile(file, toYaml(config));
  const run = await runInstallScript(['--print-units', '--config', file], 120_000);
  if (run.code !== 0) throw new Error(describeRun(run));
  const units = new Map<string, string>();
  for (const block of run.stdout.split(/^# \/etc\/systemd\/system\//m).slice(1)) {
    const name = block.slice(0, block.indexOf('\n'));
    units.set(name, block.slice(name.length + 1).trim());
  }
  return units;
}

const BASE = {
  hostname: 'reg.example.com',
  harbor_admin_password: 'Admin-Passw0rd',
  database: { password: 'db-secret' },
};

describe('install.sh --print-units: the systemd units of a host with systemd', () => {
  let dir: string;
  let embedded: Map<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-e2e-units-'));
    embedded = await printUnits(dir, {
      ...BASE,
      data_volume: '/srv/wharf data',
      log: { local: { location: '/var/log/wharf' } },
    });
  });

  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('has one unit per process, each restarted always and run by the wharf user with hardening', () => {
    expect([...embedded.keys()].sort()).toEqual([
      'wharf-core.service',
      'wharf-jobservice.service',
      'wharf-postgresql.service',
      'wharf-redis.service',
    ]);
    for (const [name, text] of embedded) {
      const unit = parseUnit(text);
      expect({
        name,
        user: value(unit, 'Service', 'User'),
        restart: value(unit, 'Service', 'Restart'),
        noNewPrivileges: value(unit, 'Service', 'NoNewPrivileges'),
        protectSystem: value(unit, 'Service', 'ProtectSystem'),
        privateTmp: value(unit, 'Service', 'PrivateTmp'),
        capabilities: value(unit, 'Service', 'CapabilityBoundingSet'),
        wantedBy: value(unit, 'Install', 'WantedBy'),
      }).toEqual({
        name,
        user: 'wharf',
        restart: 'always',
        noNewPrivileges: 'yes',
        protectSystem: 'strict',
        // A private /tmp would hide the checkout itself when it lives under /tmp (as a CI clone may).
        privateTmp: /^\/(var\/)?tmp\//.test(repoRoot()) ? undefined : 'yes',
        capabilities: '',
        wantedBy: 'multi-user.target',
      });
    }
  });

  it('reloads core with SIGHUP, which makes it read its certificate and key again; nothing else reloads', () => {
    const reloads = [...embedded].map(([name, text]) => [name, value(parseUnit(text), 'Service', 'ExecReload')]);
    expect(Object.fromEntries(reloads)).toEqual({
      'wharf-core.service': '/bin/kill -HUP $MAINPID',
      'wharf-jobservice.service': undefined,
      'wharf-postgresql.service': '/bin/kill -HUP $MAINPID',
      'wharf-redis.service': undefined,
    });
  });

  it('orders core after the embedded PostgreSQL and Redis, and the jobservice after core', () => {
    const core = parseUnit(embedded.get('wharf-core.service')!);
    const jobservice = parseUnit(embedded.get('wharf-jobservice.service')!);
    expect(value(core, 'Unit', 'After')?.split(' ')).toEqual(
      expect.arrayContaining(['wharf-postgresql.service', 'wharf-redis.service']),
    );
    expect(value(core, 'Unit', 'Requires')).toBe('wharf-postgresql.service wharf-redis.service');
    expect(value(jobservice, 'Unit', 'After')?.split(' ')).toEqual(
      expect.arrayContaining(['wharf-postgresql.service', 'wharf-redis.service', 'wharf-core.service']),
    );
  });

  it('runs each program with the copy of harbor.yml under data_volume, quoting paths with spaces', () => {
    // The launcher runs node (named by WHARF_NODE) with the flags the servers are tuned for.
    const launcher = join(repoRoot(), 'apps/cli/bin/wharf');
    const core = parseUnit(embedded.get('wharf-core.service')!);
    expect(value(core, 'Service', 'ExecStart')).toBe(
      `"${launcher}" "start" "core" "--config" "/srv/wharf data/config/harbor.yml"`,
    );
    expect(value(core, 'Service', 'Environment')?.split('\n')).toEqual(
      expect.arrayContaining([expect.stringMatching(/^"WHARF_NODE=\/[^"]*\/node"$/)]),
    );
    expect(value(core, 'Service', 'ReadWritePaths')).toBe('"/srv/wharf data" "/srv/wharf data/registry"');
    const postgresql = parseUnit(embedded.get('wharf-postgresql.service')!);
    expect(value(postgresql, 'Service', 'ExecStart')).toMatch(
      /^"\/usr\/lib\/postgresql\/[^"]+\/postgres" "-D" "\/srv\/wharf data\/database"$/,
    );
    expect(value(postgresql, 'Service', 'KillSignal')).toBe('SIGINT');
    expect(value(postgresql, 'Service', 'Type')).toBe('notify');
    const redis = parseUnit(embedded.get('wharf-redis.service')!);
    expect(value(redis, 'Service', 'ExecStart')).toBe(
      '"/usr/bin/redis-server" "/srv/wharf data/redis/redis.conf" "--supervised" "systemd"',
    );
  });

  it('grants core alone the capability to bind a port below 1024', async () => {
    const units = await printUnits(dir, { ...BASE, http: { port: 80 }, data_volume: '/srv/wharf' });
    const core = parseUnit(units.get('wharf-core.service')!);
    expect(value(core, 'Service', 'AmbientCapabilities')).toBe('CAP_NET_BIND_SERVICE');
    expect(value(core, 'Service', 'CapabilityBoundingSet')).toBe('CAP_NET_BIND_SERVICE');
    const jobservice = parseUnit(units.get('wharf-jobservice.service')!);
    expect(value(jobservice, 'Service', 'AmbientCapabilities')).toBeUndefined();
  });

  it('installs no PostgreSQL or Redis unit with an external database and Redis', async () => {
    const units = await printUnits(dir, {
      hostname: 'reg.example.com',
      harbor_admin_password: 'Admin-Passw0rd',
      data_volume: '/srv/wharf',
      external_database: { harbor: { host: 'pg.internal', db_name: 'registry', username: 'u', password: 'p' } },
      external_redis: { host: 'redis.internal:6379' },
    });
    expect([...units.keys()].sort()).toEqual(['wharf-core.service', 'wharf-jobservice.service']);
    const core = parseUnit(units.get('wharf-core.service')!);
    expect(value(core, 'Unit', 'Requires')).toBeUndefined();
  });

  it('keeps /tmp shared when Wharf keeps its data there', async () => {
    const units = await printUnits(dir, { ...BASE, data_volume: '/tmp/wharf-data' });
    for (const text of units.values()) expect(value(parseUnit(text), 'Service', 'PrivateTmp')).toBeUndefined();
  });

  const hasAnalyzer = existsSync('/usr/bin/systemd-analyze') || existsSync('/bin/systemd-analyze');
  (hasAnalyzer ? it : it.skip)('passes systemd-analyze verify', async () => {
    const unitDir = join(dir, 'units');
    await mkdir(unitDir);
    const units = await printUnits(dir, { ...BASE, data_volume: '/srv/wharf' });
    for (const [name, text] of units) await writeFile(join(unitDir, name), `${text}\n`);
    const postgres = /^"([^"]+)"/.exec(
      value(parseUnit(units.get('wharf-postgresql.service')!), 'Service', 'ExecStart')!,
    )!;
    if (!existsSync(postgres[1]) || !existsSync('/usr/bin/redis-server')) {
      throw new Error(
        'systemd-analyze verify needs PostgreSQL and Redis installed (apt-get install postgresql redis-server)',
      );
    }
    const { stdout, stderr } = await execFileAsync(
      'systemd-analyze',
      ['verify', '--man=no', ...[...units.keys()].map((name) => join(unitDir, name))],
      { timeout: 60_000 },
    );
    expect({ stdout, stderr }).toEqual({ stdout: '', stderr: '' });
  });
});
