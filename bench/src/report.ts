import { type Sizes } from './data.js';
import { type WorkloadId } from './options.js';

export type Goal =
  { kind: 'ratio'; min: number; text: string } | { kind: 'max'; value: number; text: string } | { kind: 'none' };

export interface RowDefinition {
  metric: string;
  workload: WorkloadId | 'round';
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  target: Goal;
}

export type Verdict = 'pass' | 'tie' | 'fail' | 'info';

export interface Row extends RowDefinition {
  wharf: number;
  reference: number;
  /** Wharf's advantage: > 1 means Wharf did better, whichever direction the unit counts. */
  ratio: number;
  verdict: Verdict;
  rounds: { wharf: number; reference: number; ratio: number }[];
}

/** Below this distance from 1, a ratio is within what the reference measured against itself varies by. */
export const TIE_BAND = 0.15;

function size(bytes: number): string {
  return bytes >= 1024 * 1024 * 1024 ? `${bytes / 1024 ** 3} GiB` : `${bytes / 1024 ** 2} MiB`;
}

export function rowDefinitions(s: Sizes): RowDefinition[] {
  const push: Goal = { kind: 'ratio', min: 1.3, text: '≥ 1.3×' };
  const pull: Goal = { kind: 'ratio', min: 1.0, text: '≥ 1.0×' };
  const manifest: Goal = { kind: 'ratio', min: 3, text: '≥ 3×' };
  const p99: Goal = { kind: 'max', value: 50, text: '≤ 50 ms' };
  const rate = { unit: 'MiB/s', better: 'higher' } as const;
  return [
    {
      metric: 'push-1m',
      workload: 'push-1m',
      label: `monolithic push ${size(s.smallBytes)} ×${s.smallCount}`,
      ...rate,
      target: push,
    },
    {
      metric: 'push-64m',
      workload: 'push-64m',
      label: `monolithic push ${size(s.mediumBytes)}`,
      ...rate,
      target: push,
    },
    {
      metric: 'push-512m',
      workload: 'push-512m',
      label: `monolithic push ${size(s.largeBytes)}`,
      ...rate,
      target: push,
    },
    {
      metric: 'push-chunked-512m',
      workload: 'push-chunked-512m',
      label: `chunked push ${size(s.largeBytes)} in ${size(s.chunkBytes)} chunks`,
      ...rate,
      target: push,
    },
    {
      metric: 'push-concurrent-64m',
      workload: 'push-concurrent-64m',
      label: `${s.concurrentPushes} concurrent pushes of ${size(s.mediumBytes)}`,
      ...rate,
      target: push,
    },
    {
      metric: 'pull-1m',
      workload: 'pull-1m',
      label: `pull ${size(s.smallBytes)} ×${s.smallCount}`,
      ...rate,
      target: pull,
    },
    {
      metric: 'pull-64m',
      workload: 'pull-64m',
      label: `pull ${size(s.mediumBytes)} ×${s.mediumPullRepeats}`,
      ...rate,
      target: pull,
    },
    {
      metric: 'pull-512m',
      workload: 'pull-512m',
      label: `pull ${size(s.largeBytes)} ×${s.largePullRepeats}`,
      ...rate,
      target: pull,
    },
    {
      metric: 'pull-concurrent-64m',
      workload: 'pull-concurrent-64m',
      label: `${s.concurrentPulls} concurrent pulls of ${size(s.mediumBytes)}`,
      ...rate,
      target: pull,
    },
    {
      metric: 'manifest-get.rps',
      workload: 'manifest-get',
      label: `manifest GET by tag, ${s.wrkConnections} conns`,
      unit: 'req/s',
      better: 'higher',
      target: manifest,
    },
    {
      metric: 'manifest-get.p99',
      workload: 'manifest-get',
      label: 'manifest GET by tag, p99',
      unit: 'ms',
      better: 'lower',
      target: p99,
    },
    {
      metric: 'manifest-head.rps',
      workload: 'manifest-head',
      label: `manifest HEAD by tag, ${s.wrkConnections} conns`,
      unit: 'req/s',
      better: 'higher',
      target: manifest,
    },
    {
      metric: 'manifest-head.p99',
      workload: 'manifest-head',
      label: 'manifest HEAD by tag, p99',
      unit: 'ms',
      better: 'lower',
      target: p99,
    },
    {
      metric: 'tags-list',
      workload: 'tags-list',
      label: `tags list, ${s.tagCount} tags (median)`,
      unit: 'ms',
      better: 'lower',
      target: { kind: 'ratio', min: 1 + TIE_BAND, text: 'faster' },
    },
    {
      metric: 'rss.push-512m',
      workload: 'push-512m',
      label: `peak RSS during ${size(s.largeBytes)} push`,
      unit: 'MiB',
      better: 'lower',
      target: { kind: 'max', value: 200, text: '≤ 200 MiB' },
    },
    {
      metric: 'rss.pull-concurrent-64m',
      workload: 'pull-concurrent-64m',
      label: `peak RSS during ${s.concurrentPulls} concurrent pulls`,
      unit: 'MiB',
      better: 'lower',
      target: { kind: 'max', value: 400, text: '≤ 400 MiB' },
    },
    {
      metric: 'rss.peak',
      workload: 'round',
      label: 'peak RSS over the round (VmHWM)',
      unit: 'MiB',
      better: 'lower',
      target: { kind: 'none' },
    },
    {
      metric: 'cpu.push',
      workload: 'round',
      label: 'CPU per GiB pushed',
      unit: 's/GiB',
      better: 'lower',
      target: { kind: 'none' },
    },
    {
      metric: 'cpu.pull',
      workload: 'round',
      label: 'CPU per GiB pulled',
      unit: 's/GiB',
      better: 'lower',
      target: { kind: 'none' },
    },
    {
      // Pulls from the page cache are bound by CPU and the client; pulls from the disk by the disk.
      metric: 'cache.pull',
      workload: 'round',
      label: 'pulled bytes served from the page cache',
      unit: '%',
      better: 'higher',
      target: { kind: 'none' },
    },
  ];
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function advantage(better: 'higher' | 'lower', wharf: number, reference: number): number {
  return better === 'higher' ? wharf / reference : reference / wharf;
}

export function verdict(target: Goal, wharf: number, ratio: number): Verdict {
  if (target.kind !== 'none' && !(Number.isFinite(wharf) && Number.isFinite(ratio))) return 'fail';
  switch (target.kind) {
    case 'none':
      return 'info';
    case 'max':
      return wharf <= target.value ? 'pass' : 'fail';
    case 'ratio':
      if (ratio >= target.min) return 'pass';
      return Math.abs(ratio - 1) < TIE_BAND ? 'tie' : 'fail';
  }
}

/** Medians over the rounds of each side, and the ratio of those medians. */
export function buildRows(
  definitions: RowDefinition[],
  rounds: { wharf: Record<string, number>; reference: Record<string, number> }[],
): Row[] {
  const rows: Row[] = [];
  for (const definition of definitions) {
    const perRound = rounds
      .filter((round) => definition.metric in round.wharf && definition.metric in round.reference)
      .map((round) => {
        const wharf = round.wharf[definition.metric];
        const reference = round.reference[definition.metric];
        return { wharf, reference, ratio: advantage(definition.better, wharf, reference) };
      });
    if (perRound.length === 0) continue;
    const wharf = median(perRound.map((r) => r.wharf));
    const reference = median(perRound.map((r) => r.reference));
    const ratio = advantage(definition.better, wharf, reference);
    rows.push({
      ...definition,
      wharf,
      reference,
      ratio,
      verdict: verdict(definition.target, wharf, ratio),
      rounds: perRound,
    });
  }
  return rows;
}

function figure(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

const MARK: Record<Verdict, string> = { pass: '✅ pass', tie: '🟰 tie', fail: '❌ fail', info: 'info' };

export function markdownTable(rows: Row[], names: { wharf: string; reference: string }): string {
  const lines = [
    `| Workload | ${names.wharf} | ${names.reference} | Ratio (> 1: ${names.wharf} better) | Target | Result |`,
    '|---|---:|---:|---:|---|---|',
  ];
  for (const row of rows) {
    const spread = row.rounds.map((r) => r.ratio);
    const range = spread.length > 1 ? ` (${figure(Math.min(...spread))}–${figure(Math.max(...spread))})` : '';
    const target = row.target.kind === 'none' ? '—' : row.target.text;
    lines.push(
      `| ${row.label} | ${figure(row.wharf)} ${row.unit} | ${figure(row.reference)} ${row.unit} | ${figure(row.ratio)}×${range} | ${target} | ${MARK[row.verdict]} |`,
    );
  }
  return lines.join('\n');
}
