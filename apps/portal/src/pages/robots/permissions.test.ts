import { describe, expect, it } from 'vitest';
import {
  coverageOf,
  humanize,
  systemRobotPermissions,
  toAccess,
  uniformProjectAccess,
  type RobotPermission,
} from './permissions.js';
import { expiryText, isExpired, parseDurationDays, robotNameProblem, secretFileName } from './robot-model.js';

const PULL = { resource: 'repository', action: 'pull' };
const PUSH = { resource: 'repository', action: 'push' };
const AUDIT = { resource: 'audit-log', action: 'list' };

describe('system robot permissions', () => {
  it('gives the same project access to every chosen project, after the system part', () => {
    expect(systemRobotPermissions([AUDIT], { kind: 'selected', projects: ['a', 'b', 'a'] }, [PULL])).toEqual([
      { kind: 'system', namespace: '/', access: [AUDIT] },
      { kind: 'project', namespace: 'a', access: [PULL] },
      { kind: 'project', namespace: 'b', access: [PULL] },
    ]);
  });

  it('covers every project with "*", and leaves out empty parts', () => {
    expect(systemRobotPermissions([], { kind: 'all' }, [PULL])).toEqual([
      { kind: 'project', namespace: '*', access: [PULL] },
    ]);
    expect(systemRobotPermissions([AUDIT], { kind: 'none' }, [PULL])).toEqual([
      { kind: 'system', namespace: '/', access: [AUDIT] },
    ]);
    expect(systemRobotPermissions([], { kind: 'all' }, [])).toEqual([]);
  });

  it('reads the coverage back, and notices projects holding different access', () => {
    const permissions: RobotPermission[] = [
      { kind: 'system', namespace: '/', access: [AUDIT] },
      { kind: 'project', namespace: 'a', access: [PULL] },
      { kind: 'project', namespace: 'b', access: [PULL, PUSH] },
    ];
    expect(coverageOf(permissions)).toEqual({ kind: 'selected', projects: ['a', 'b'] });
    expect(uniformProjectAccess(permissions)).toBe(false);
    expect(uniformProjectAccess(permissions.slice(0, 2))).toBe(true);
    expect(coverageOf([{ kind: 'project', namespace: '*', access: [PULL] }])).toEqual({ kind: 'all' });
    expect(coverageOf(permissions.slice(0, 1))).toEqual({ kind: 'none' });
  });

  it('keeps the offered order and only offered permissions when turning a selection into access', () => {
    expect(toAccess(new Set(['repository:push', 'repository:pull', 'tag:delete']), [PULL, PUSH])).toEqual([PULL, PUSH]);
  });
});

describe('robot model', () => {
  it('names resources in words', () => {
    expect(humanize('artifact-label')).toBe('Artifact label');
    expect(humanize('export-cve')).toBe('Export CVE');
  });

  it('checks names as Harbor does', () => {
    expect(robotNameProblem('ci-bot.1')).toBeUndefined();
    expect(robotNameProblem('')).toBe('Enter a name.');
    expect(robotNameProblem('CI')).toMatch(/lower-case/);
    expect(robotNameProblem('a+b')).toMatch(/lower-case/);
  });

  it('reads expiration days', () => {
    expect(parseDurationDays('30')).toEqual({ days: 30 });
    expect(parseDurationDays('0')).toHaveProperty('problem');
    expect(parseDurationDays('1.5')).toHaveProperty('problem');
  });

  it('marks expired robots and shows "Never" for those that never expire', () => {
    const now = Date.UTC(2026, 0, 10);
    expect(isExpired({ expires_at: -1 }, now)).toBe(false);
    expect(isExpired({ expires_at: now / 1000 - 1 }, now)).toBe(true);
    expect(isExpired({ expires_at: now / 1000 + 60 }, now)).toBe(false);
    expect(expiryText({ expires_at: -1 })).toBe('Never');
  });

  it('names the secret file after the robot', () => {
    expect(secretFileName('robot$shop+ci')).toBe('robot$shop+ci.json');
    expect(secretFileName('robot$a/b')).toBe('robot$a_b.json');
  });
});
