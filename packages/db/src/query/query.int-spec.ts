import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase, type TestDatabase } from '@wharf/testkit';
import pg from 'pg';
import { buildFilter, type FieldSpec } from './filter.builder.js';
import { buildOrderBy } from './order.builder.js';
import { paginationLinks, parsePagination } from './pagination.js';
import { parseQuery, parseSort } from './query.parser.js';

const FIELDS: Record<string, FieldSpec> = {
  name: { column: 'i.name', type: 'text', fuzzy: true },
  id: { column: 'i.id', type: 'int', range: true },
  public: { column: 'i.public', type: 'bool' },
  creation_time: { column: 'i.creation_time', type: 'time', range: true },
  tags: { column: 'i.tags', type: 'text', array: true, fuzzy: true },
  labels: { column: 'i.label_ids', type: 'int', array: true },
};
const SORTABLE = { name: 'i.name', creation_time: 'i.creation_time', id: 'i.id' };

// Five items; the names carry LIKE wildcards and a quote so escaping is tested against the real engine.
const ROWS: [number, string, boolean, string, string[], number[]][] = [
  [1, 'nginx', true, '2024-01-01T00:00:00Z', ['latest', 'v1'], [1, 2]],
  [2, 'NGINX-alpine', false, '2024-02-01T12:00:00Z', ['v1-rc'], [1]],
  [3, 'redis_100%', true, '2024-03-01T00:00:00Z', [], [2, 3]],
  [4, "o'brien", false, '2024-03-01T00:00:00Z', ['latest'], []],
  [5, 'redis', true, '2024-04-15T08:30:00+02:00', ['7.2', 'latest'], [1, 2, 3]],
];

describe('list queries against PostgreSQL', () => {
  let db: TestDatabase;
  let client: pg.Client;

  async function list(input: {
    q?: string;
    sort?: string;
    page?: string;
    page_size?: string;
  }): Promise<{ ids: number[]; total: number; link: string | undefined }> {
    const params: unknown[] = [];
    const where = buildFilter(parseQuery(input.q), FIELDS, params);
    const orderBy = buildOrderBy(parseSort(input.sort), SORTABLE, 'i.id');
    const { page, pageSize, offset } = parsePagination(input.page, input.page_size);
    const count = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM item i WHERE ${where}`, params);
    const rows = await client.query<{ id: number }>(
      `SELECT i.id FROM item i WHERE ${where} ORDER BY ${orderBy} LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, pageSize, offset],
    );
    const total = count.rows[0].n;
    return {
      ids: rows.rows.map((r) => r.id),
      total,
      link: paginationLinks('/api/v2.0/items', { q: input.q, sort: input.sort }, page, pageSize, total),
    };
  }

  const ids = async (q: string, sort?: string) => (await list({ q, sort })).ids;

  beforeAll(async () => {
    db = await createTestDatabase('wharf_query_spec');
    client = new pg.Client({
      host: db.host,
      port: db.port,
      user: db.username,
      password: db.password,
      database: db.database,
    });
    await client.connect();
    await client.query(`
      CREATE TABLE item (
        id int PRIMARY KEY,
        name varchar(255) NOT NULL,
        public boolean NOT NULL,
        creation_time timestamptz NOT NULL,
        tags text[] NOT NULL,
        label_ids bigint[] NOT NULL
      )`);
    for (const row of ROWS) {
      await client.query(`INSERT INTO item VALUES ($1, $2, $3, $4, $5, $6)`, row);
    }
  });

  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  it('matches exactly, fuzzily (case-insensitive) and literally when the text holds LIKE wildcards', async () => {
    expect(await ids('name=nginx')).toEqual([1]);
    expect(await ids('name=~gin')).toEqual([1, 2]);
    expect(await ids('name=~0%')).toEqual([3]);
    expect(await ids('name=~d_s')).toEqual([]);
    expect(await ids('name=~s_1')).toEqual([3]);
    expect(await ids("name=o'brien")).toEqual([4]);
  });

  it('filters ranges of integers and times, open or closed', async () => {
    expect(await ids('id=[2~4]')).toEqual([2, 3, 4]);
    expect(await ids('id=[4~]')).toEqual([4, 5]);
    expect(await ids('creation_time=[2024-02-01 12:00:00~2024-03-01]')).toEqual([2, 3, 4]);
    // 08:30 at +02:00 is 06:30 UTC: after 06:00 UTC, not after 07:00 UTC.
    expect(await ids('creation_time=[2024-04-15T06:00:00~]')).toEqual([5]);
    expect(await ids('creation_time=[2024-04-15T07:00:00Z~]')).toEqual([]);
  });

  it('filters booleans and any-of / all-of lists on scalar and array columns', async () => {
    expect(await ids('public=false')).toEqual([2, 4]);
    expect(await ids('id={5 1 9}')).toEqual([1, 5]);
    expect(await ids('name={redis nginx}')).toEqual([1, 5]);
    expect(await ids('tags=latest')).toEqual([1, 4, 5]);
    expect(await ids('tags=~RC')).toEqual([2]);
    expect(await ids('labels={3 9}')).toEqual([3, 5]);
    expect(await ids('labels=(1 2)')).toEqual([1, 5]);
    expect(await ids('labels=(1 2 3)')).toEqual([5]);
    expect(await ids('labels={}')).toEqual([1, 2, 3, 4, 5]);
  });

  it('combines terms with AND', async () => {
    expect(await ids('public=true,tags=latest,creation_time=[~2024-03-31]')).toEqual([1]);
  });

  it('treats injection attempts as plain values and leaves the table intact', async () => {
    expect(await ids("name=x' OR '1'='1")).toEqual([]);
    expect(await ids("name=~'; DROP TABLE item; --")).toEqual([]);
    expect(await ids('tags={a\'} b"}')).toEqual([]);
    expect((await client.query('SELECT count(*)::int AS n FROM item')).rows[0]).toEqual({ n: 5 });
  });

  it('sorts by several keys with a stable tiebreak', async () => {
    expect(await ids('', '-creation_time,name')).toEqual([5, 4, 3, 2, 1]);
    expect(await ids('', 'creation_time,-name')).toEqual([1, 2, 3, 4, 5]);
    expect(await ids('', '-creation_time,-name')).toEqual([5, 3, 4, 2, 1]);
    expect(await ids('public=true', 'name')).toEqual([1, 5, 3]);
  });

  it('pages through the rows with links that keep the query', async () => {
    const page = (n: string) => list({ q: 'name=~I', sort: '-id', page: n, page_size: '2' });
    const link = (n: number, rel: string) => `</api/v2.0/items?page=${n}&page_size=2&q=name=~I&sort=-id>; rel="${rel}"`;
    expect(await page('1')).toEqual({ ids: [5, 4], total: 5, link: link(2, 'next') });
    expect(await page('2')).toEqual({ ids: [3, 2], total: 5, link: `${link(1, 'prev')} , ${link(3, 'next')}` });
    expect(await page('3')).toEqual({ ids: [1], total: 5, link: link(2, 'prev') });
    // Past the end, the previous page is empty too, so there is nowhere to link.
    expect(await page('4')).toEqual({ ids: [], total: 5, link: undefined });
  });
});
