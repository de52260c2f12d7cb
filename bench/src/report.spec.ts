import { describe, expect, it } from '@jest/globals';
import { sizesFor } from './data.js';
import { buildRows, markdownTable, rowDefinitions, verdict } from './report.js';

describe('verdict', () => {
  const push = { kind: 'ratio', min: 1.3, text: '≥ 1.3×' } as const;
  const pull = { kind: 'ratio', min: 1.0, text: '≥ 1.0×' } as const;

  it('passes a ratio at or above its target and calls anything within 15 % of 1 a tie', () => {
    expect(verdict(push, 0, 1.3)).toBe('pass');
    expect(verdict(push, 0, 1.1)).toBe('tie');
    expect(verdict(push, 0, 0.8)).toBe('fail');
    expect(verdict(pull, 0, 0.9)).toBe('tie');
    expect(verdict(pull, 0, 0.84)).toBe('fail');
  });

  it('judges absolute limits on the Wharf figure alone', () => {
    const limit = { kind: 'max', value: 200, text: '≤ 200 MiB' } as const;
    expect(verdict(limit, 199, 0.1)).toBe('pass');
    expect(verdict(limit, 201, 10)).toBe('fail');
  });

  it('fails a row whose figures are not numbers', () => {
    expect(verdict(pull, 0, Number.NaN)).toBe('fail');
  });
});

describe('buildRows', () => {
  const definitions = rowDefinitions(sizesFor(false));

  it('takes medians over rounds and expresses the ratio as Wharf’s advantage for either direction', () => {
    const rounds = [
      { wharf: { 'pull-64m': 200, 'tags-list': 10 }, reference: { 'pull-64m': 100, 'tags-list': 20 } },
      { wharf: { 'pull-64m': 300, 'tags-list': 30 }, reference: { 'pull-64m': 100, 'tags-list': 30 } },
      { wharf: { 'pull-64m': 400, 'tags-list': 20 }, reference: { 'pull-64m': 100, 'tags-list': 40 } },
    ];
    const rows = buildRows(definitions, rounds);
    expect(rows.map((row) => row.metric)).toEqual(['pull-64m', 'tags-list']);
    const [pull, tags] = rows;
    expect(pull).toMatchObject({ wharf: 300, reference: 100, ratio: 3, verdict: 'pass' });
    expect(tags).toMatchObject({ wharf: 20, reference: 30, ratio: 1.5, verdict: 'pass' });
    expect(pull.rounds.map((round) => round.ratio)).toEqual([2, 3, 4]);
  });

  it('prints one Markdown row per figure with both sides, the ratio, its range and the result', () => {
    const rows = buildRows(definitions, [
      { wharf: { 'push-512m': 150 }, reference: { 'push-512m': 200 } },
      { wharf: { 'push-512m': 170 }, reference: { 'push-512m': 160 } },
    ]);
    const table = markdownTable(rows, { wharf: 'Wharf', reference: 'Distribution 2.8' });
    expect(table.split('\n')).toHaveLength(3);
    expect(table).toContain(
      '| monolithic push 512 MiB | 160 MiB/s | 180 MiB/s | 0.89× (0.75–1.06) | ≥ 1.3× | 🟰 tie |',
    );
  });
});
