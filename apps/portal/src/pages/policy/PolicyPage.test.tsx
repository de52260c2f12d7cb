import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { type Project } from '../../api/types.js';
import { createFetchDouble, errorReply, type FetchDouble } from '../../test/fetch-double.js';
import { DEVELOPER, PROJECT, renderWithApp } from '../../test/render.js';
import { PolicyPage } from './PolicyPage.js';
import { type ImmutableRule, type RetentionMetadata, type RetentionPolicy } from './rules.js';

const METADATA: RetentionMetadata = {
  templates: [
    {
      rule_template: 'latestPushedK',
      display_text: 'the most recently pushed # artifacts',
      action: 'retain',
      params: [{ type: 'int', unit: 'COUNT', required: true }],
    },
    {
      rule_template: 'nDaysSinceLastPull',
      display_text: 'pulled within the last # days',
      action: 'retain',
      params: [{ type: 'int', unit: 'DAYS', required: true }],
    },
    { rule_template: 'always', display_text: 'always', action: 'retain', params: [] },
  ],
  scope_selectors: [{ display_text: 'Repositories', kind: 'doublestar', decorations: ['repoMatches', 'repoExcludes'] }],
  tag_selectors: [{ display_text: 'Tags', kind: 'doublestar', decorations: ['matches', 'excludes'] }],
};

const POLICY: RetentionPolicy = {
  id: 9,
  algorithm: 'or',
  rules: [
    {
      id: 1,
      priority: 0,
      disabled: false,
      action: 'retain',
      template: 'latestPushedK',
      params: { latestPushedK: 10 },
      tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: '**', extras: '{"untagged":true}' }],
      scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: '**' }] },
    },
  ],
  trigger: { kind: 'Schedule', settings: { cron: '' }, references: {} },
  scope: { level: 'project', ref: 3 },
};

const IMMUTABLE: ImmutableRule = {
  id: 4,
  priority: 0,
  disabled: false,
  action: 'immutable',
  template: 'immutable_template',
  tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: 'release-*' }],
  scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: '**' }] },
};

const RULES_PATH = '/api/v2.0/projects/3/immutabletagrules';
const RUNS_PATH = '/api/v2.0/retentions/9/executions';

const RUNS = [
  {
    id: 31,
    policy_id: 9,
    start_time: '2026-12-07T10:00:00Z',
    end_time: '2026-12-07T10:01:05Z',
    status: 'Success',
    trigger: 'MANUAL',
    dry_run: true,
  },
  {
    id: 30,
    policy_id: 9,
    start_time: '2026-12-07T09:00:00Z',
    end_time: '',
    status: 'Running',
    trigger: 'SCHEDULE',
    dry_run: false,
  },
];

const TASK = {
  id: 77,
  execution_id: 31,
  repository: 'web/app',
  job_id: 'j1',
  status: 'Success',
  status_code: 3,
  status_revision: 1,
  start_time: '2026-12-07T10:00:01Z',
  end_time: '2026-12-07T10:00:02Z',
  total: 10,
  retained: 3,
};

function server(immutable: ImmutableRule[] = [IMMUTABLE]): FetchDouble {
  return createFetchDouble()
    .on('GET', '/api/v2.0/retentions/metadatas', { body: METADATA })
    .on('GET', '/api/v2.0/retentions/9', { body: POLICY })
    .on('GET', RULES_PATH, { body: immutable, headers: { 'X-Total-Count': String(immutable.length) } })
    .on('GET', RUNS_PATH, { body: RUNS, headers: { 'X-Total-Count': '2' } })
    .on('GET', '/api/v2.0/users/current/permissions', { body: [] });
}

function renderPolicy(double: FetchDouble, options: { project?: Project; user?: typeof DEVELOPER } = {}) {
  return renderWithApp(<PolicyPage />, {
    at: '/projects/3/policy',
    path: '/projects/:projectId/policy',
    project: options.project ?? { ...PROJECT, metadata: { public: 'false', retention_id: '9' } },
    server: double,
    ...(options.user ? { user: options.user } : {}),
  });
}

describe('PolicyPage: tag retention', () => {
  it('shows each rule as a sentence', async () => {
    renderPolicy(server());
    expect(
      await screen.findByText(
        'For the repositories matching **, retain the 10 most recently pushed artifacts with tags matching ** including untagged artifacts',
      ),
    ).toBeInTheDocument();
  });

  it('adds a rule from the dialog and saves the policy with both rules', async () => {
    const double = server().on('PUT', '/api/v2.0/retentions/9', { status: 200 });
    renderPolicy(double);
    await userEvent.click(await screen.findByRole('button', { name: 'Add rule' }));
    const dialog = screen.getByRole('dialog', { name: 'Add retention rule' });
    await userEvent.selectOptions(within(dialog).getByLabelText('Retain'), 'nDaysSinceLastPull');
    const days = within(dialog).getByLabelText('Days');
    await userEvent.clear(days);
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add' }));
    expect(within(dialog).getByText(/Enter a whole number from 1 to/)).toBeInTheDocument();
    expect(double.requests.some((r) => r.method === 'PUT')).toBe(false);

    await userEvent.type(days, '30');
    await userEvent.selectOptions(within(dialog).getByLabelText('Tags matching or excluding'), 'excludes');
    await userEvent.clear(within(dialog).getByLabelText('Tag pattern'));
    await userEvent.type(within(dialog).getByLabelText('Tag pattern'), 'dev-*');
    await userEvent.click(within(dialog).getByLabelText('Exclude untagged artifacts'));
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add' }));

    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    const put = double.requests.find((r) => r.method === 'PUT');
    const body = put?.body as { rules: unknown[]; trigger: unknown; scope: unknown };
    expect(body.rules).toHaveLength(2);
    expect(body.rules[1]).toEqual({
      action: 'retain',
      template: 'nDaysSinceLastPull',
      params: { nDaysSinceLastPull: 30 },
      tag_selectors: [{ kind: 'doublestar', decoration: 'excludes', pattern: 'dev-*', extras: '{"untagged":false}' }],
      scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: '**' }] },
    });
    expect(body.trigger).toEqual({ kind: 'Schedule', settings: { cron: '' } });
    expect(body.scope).toEqual({ level: 'project', ref: 3 });
  });

  it("creates the project's policy with its first rule", async () => {
    const double = server()
      .on('POST', '/api/v2.0/retentions', { status: 201, headers: { Location: '/api/v2.0/retentions/12' } })
      .on('GET', '/api/v2.0/retentions/12', { body: { ...POLICY, id: 12 } })
      .on('GET', '/api/v2.0/projects/3', { body: PROJECT });
    renderPolicy(double, { project: PROJECT });
    expect(await screen.findByText('No retention rules: nothing is deleted.')).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Add rule' }));
    await userEvent.click(
      within(screen.getByRole('dialog', { name: 'Add retention rule' })).getByRole('button', { name: 'Add' }),
    );
    expect(await screen.findByText(/retain the 10 most recently pushed artifacts/)).toBeInTheDocument();
    const post = double.requests.find((r) => r.method === 'POST');
    expect((post?.body as { rules: unknown[] }).rules).toHaveLength(1);
    expect(double.requests.some((r) => r.path === '/api/v2.0/retentions/12')).toBe(true);
  });

  it('deletes a rule after confirmation, keeping the others', async () => {
    const double = server().on('PUT', '/api/v2.0/retentions/9', { status: 200 });
    renderPolicy(double);
    await userEvent.click(
      await screen.findByRole('button', { name: /^Delete rule: For the repositories matching \*\*, retain/ }),
    );
    await userEvent.click(
      within(screen.getByRole('dialog', { name: 'Delete retention rule' })).getByRole('button', { name: 'Delete' }),
    );
    await waitFor(() => expect(double.requests.some((r) => r.method === 'PUT')).toBe(true));
    expect((double.requests.find((r) => r.method === 'PUT')?.body as { rules: unknown[] }).rules).toEqual([]);
  });

  it('saves a daily schedule, and checks a custom cron has six fields', async () => {
    const double = server().on('PUT', '/api/v2.0/retentions/9', { status: 200 });
    renderPolicy(double);
    const schedule = await screen.findByRole('form', { name: 'Retention schedule' });
    await userEvent.selectOptions(within(schedule).getByLabelText('Schedule'), 'custom');
    await userEvent.type(within(schedule).getByLabelText('Cron'), '0 3 * * *');
    await userEvent.click(within(schedule).getByRole('button', { name: 'Save schedule' }));
    expect(within(schedule).getByRole('alert')).toHaveTextContent('6 fields');

    await userEvent.selectOptions(within(schedule).getByLabelText('Schedule'), 'daily');
    await userEvent.click(within(schedule).getByRole('button', { name: 'Save schedule' }));
    await waitFor(() => expect(double.requests.some((r) => r.method === 'PUT')).toBe(true));
    const body = double.requests.find((r) => r.method === 'PUT')?.body as { trigger: unknown; rules: unknown[] };
    expect(body.trigger).toEqual({ kind: 'Schedule', settings: { cron: '0 0 0 * * *' } });
    expect(body.rules).toHaveLength(1);
  });

  it('offers no changes to a member who may only read, and hides immutability from one who may not list it', async () => {
    const double = server().on('GET', '/api/v2.0/users/current/permissions', {
      body: [
        { resource: 'tag-retention', action: 'read' },
        { resource: 'tag-retention', action: 'list' },
      ],
    });
    renderPolicy(double, { user: DEVELOPER });
    await screen.findByText(/retain the 10 most recently pushed artifacts/);
    expect(screen.queryByRole('button', { name: 'Add rule' })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /^Edit rule/ })).not.toBeInTheDocument();
    expect(screen.getByText('Schedule:')).toBeInTheDocument();
    expect(screen.queryByRole('heading', { name: 'Tag immutability' })).not.toBeInTheDocument();
    expect(double.requests.some((r) => r.path === RULES_PATH)).toBe(false);
  });
});

describe('PolicyPage: tag immutability', () => {
  it('lists rules as sentences and adds one', async () => {
    const double = server().on('POST', RULES_PATH, { status: 201, headers: { Location: `${RULES_PATH}/5` } });
    renderPolicy(double);
    const table = await screen.findByRole('table', { name: 'Tag immutability' });
    expect(
      within(table).getByText('For the repositories matching **, tags matching release-* are immutable'),
    ).toBeInTheDocument();

    await userEvent.click(screen.getByRole('button', { name: 'Add immutability rule' }));
    const dialog = screen.getByRole('dialog', { name: 'Add immutability rule' });
    await userEvent.clear(within(dialog).getByLabelText('Repository pattern'));
    await userEvent.type(within(dialog).getByLabelText('Repository pattern'), 'web/**');
    await userEvent.clear(within(dialog).getByLabelText('Tag pattern'));
    await userEvent.type(within(dialog).getByLabelText('Tag pattern'), 'v*');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add' }));

    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    expect(double.requests.find((r) => r.method === 'POST')?.body).toEqual({
      action: 'immutable',
      template: 'immutable_template',
      tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: 'v*' }],
      scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: 'web/**' }] },
    });
  });

  it('disables a rule by flipping only its disabled flag', async () => {
    const double = server().on('PUT', `${RULES_PATH}/4`, { status: 200 });
    renderPolicy(double);
    await userEvent.click(await screen.findByRole('button', { name: /^Disable rule:/ }));
    await waitFor(() => expect(double.requests.some((r) => r.method === 'PUT')).toBe(true));
    expect(double.requests.find((r) => r.method === 'PUT')?.body).toEqual({ ...IMMUTABLE, disabled: true });
  });

  it('says in words why a rule was refused', async () => {
    const double = server().on('POST', RULES_PATH, errorReply(409, 'CONFLICT', 'the same rule already exists'));
    renderPolicy(double);
    await userEvent.click(await screen.findByRole('button', { name: 'Add immutability rule' }));
    const dialog = screen.getByRole('dialog', { name: 'Add immutability rule' });
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add' }));
    expect(
      await within(dialog).findByText('Could not save the immutability rule: the same rule already exists.'),
    ).toBeInTheDocument();
  });

  it('offers no new rule once the project holds 15', async () => {
    const many = Array.from({ length: 15 }, (_, i) => ({
      ...IMMUTABLE,
      id: i + 1,
      tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: `t${i}` }],
    }));
    renderPolicy(server(many));
    await screen.findByText(/tags matching t14 are immutable/);
    expect(screen.getByRole('button', { name: 'Add immutability rule' })).toBeDisabled();
  });
});

describe('PolicyPage: retention runs', () => {
  it('lists runs with status, dry run, trigger and duration, and opens a run to its repositories and their logs', async () => {
    const double = server()
      .on('GET', `${RUNS_PATH}/31/tasks`, { body: [TASK], headers: { 'X-Total-Count': '1' } })
      .on('GET', `${RUNS_PATH}/31/tasks/77`, { body: 'web/app: retained 3 of 10, deleted 7' });
    renderPolicy(double);
    const runs = await screen.findByRole('table', { name: 'Runs of the retention policy' });
    const rows = within(runs).getAllByRole('row');
    expect(within(rows[1]!).getByText('Success')).toBeInTheDocument();
    expect(within(rows[1]!).getByText('Yes')).toBeInTheDocument();
    expect(within(rows[1]!).getByText('Manual')).toBeInTheDocument();
    expect(within(rows[1]!).getByText('1 min 5 s')).toBeInTheDocument();
    expect(within(rows[1]!).queryByRole('button', { name: /^Stop/ })).not.toBeInTheDocument();
    expect(within(rows[2]!).getByText('Schedule')).toBeInTheDocument();
    expect(within(rows[2]!).getByRole('button', { name: 'Stop run 30' })).toBeInTheDocument();

    await userEvent.click(within(rows[1]!).getByRole('button', { name: 'Show the repositories of run 31' }));
    const tasks = await screen.findByRole('table', { name: 'Repositories of run 31' });
    expect(within(tasks).getByText('3 / 10')).toBeInTheDocument();
    await userEvent.click(within(tasks).getByRole('button', { name: 'Log of web/app' }));
    const log = screen.getByRole('dialog', { name: 'Log of web/app' });
    expect(await within(log).findByText(/retained 3 of 10, deleted 7/)).toBeInTheDocument();
  });

  it('starts a dry run at once, and a real run only after confirmation', async () => {
    const double = server().on('POST', RUNS_PATH, { status: 201, headers: { Location: `${RUNS_PATH}/32` } });
    renderPolicy(double);
    await userEvent.click(await screen.findByRole('button', { name: 'Dry run' }));
    await waitFor(() => expect(double.requests.filter((r) => r.method === 'POST')).toHaveLength(1));
    expect(double.requests.find((r) => r.method === 'POST')?.body).toEqual({ dry_run: true });

    await userEvent.click(screen.getByRole('button', { name: 'Run now' }));
    const confirm = screen.getByRole('dialog', { name: 'Run the retention policy' });
    expect(double.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    await userEvent.click(within(confirm).getByRole('button', { name: 'Run now' }));
    await waitFor(() => expect(double.requests.filter((r) => r.method === 'POST')).toHaveLength(2));
    expect(double.requests.filter((r) => r.method === 'POST')[1]?.body).toEqual({ dry_run: false });
  });

  it('stops a running run', async () => {
    const double = server().on('PATCH', `${RUNS_PATH}/30`, { status: 200 });
    renderPolicy(double);
    await userEvent.click(await screen.findByRole('button', { name: 'Stop run 30' }));
    await waitFor(() => expect(double.requests.some((r) => r.method === 'PATCH')).toBe(true));
    expect(double.requests.find((r) => r.method === 'PATCH')?.body).toEqual({ action: 'stop' });
  });

  it('shows runs without run or stop buttons to a member who may only read', async () => {
    const double = server().on('GET', '/api/v2.0/users/current/permissions', {
      body: [
        { resource: 'tag-retention', action: 'read' },
        { resource: 'tag-retention', action: 'list' },
      ],
    });
    renderPolicy(double, { user: DEVELOPER });
    await screen.findByRole('table', { name: 'Runs of the retention policy' });
    expect(screen.queryByRole('button', { name: 'Dry run' })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Run now' })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Stop run 30' })).not.toBeInTheDocument();
  });
});
