import { type FormEvent, useId, useState } from 'react';
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router';
import { unwrap } from '@wharf/api-client';
import { useApi } from '../../api/client.js';
import { toPage, usePageParams } from '../../api/paging.js';
import { useIsAdmin } from '../../api/session.js';
import { type ItemOf, type ResponseOf } from '../../api/types.js';
import { NotAllowed } from '../../components/Guards.js';
import { FormDialog } from '../../components/FormDialog.js';
import { PageHeader } from '../../components/PageHeader.js';
import { PagedTable } from '../../components/PagedTable.js';
import { QueryState } from '../../components/QueryState.js';
import { QuotaBar } from '../../components/QuotaBar.js';
import { useToast } from '../../components/Toast.js';
import shared from '../../components/common/common.module.css';
import { errorText } from '../../lib/errors.js';
import { STORAGE_UNITS, type StorageUnit, formatBytes, fromBytes, toBytes } from '../../lib/format.js';

export type Quota = ItemOf<ResponseOf<'/api/v2.0/quotas'>>;

const QUOTAS_KEY = ['quotas'] as const;
const UNLIMITED = -1;

const SORTS = [
  { value: '', label: 'Newest project first' },
  { value: '-used.storage', label: 'Most storage used' },
  { value: '-hard.storage', label: 'Largest limit' },
  { value: 'hard.storage', label: 'Smallest limit' },
] as const;

/** Bytes for a typed limit, or why it is not one. */
export function parseLimit(text: string, unit: StorageUnit): { bytes: number } | { problem: string } {
  const trimmed = text.trim();
  if (!/^\d+(\.\d+)?$/.test(trimmed)) return { problem: 'Enter a number, such as 10 or 2.5.' };
  const bytes = toBytes(Number(trimmed), unit);
  if (bytes <= 0) return { problem: 'Enter a limit above zero, or choose “No limit”.' };
  if (!Number.isSafeInteger(bytes)) return { problem: 'This limit is too large.' };
  return { bytes };
}

function EditQuotaDialog({ quota, onClose, onSaved }: { quota: Quota; onClose: () => void; onSaved: () => void }) {
  const api = useApi();
  const ids = { unlimited: useId(), amount: useId(), unit: useId() };
  const initial = quota.hard.storage < 0 ? { amount: 10, unit: 'GiB' as StorageUnit } : fromBytes(quota.hard.storage);
  const [unlimited, setUnlimited] = useState(quota.hard.storage < 0);
  const [amount, setAmount] = useState(String(initial.amount));
  const [unit, setUnit] = useState<StorageUnit>(initial.unit);
  const [submitted, setSubmitted] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const parsed = unlimited ? ({ bytes: UNLIMITED } as const) : parseLimit(amount, unit);
  const problem = 'problem' in parsed ? parsed.problem : undefined;
  const below = 'bytes' in parsed && parsed.bytes >= 0 && parsed.bytes < quota.used.storage;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setSubmitted(true);
    setError(null);
    if ('problem' in parsed) return;
    setBusy(true);
    try {
      unwrap(
        await api.PUT('/api/v2.0/quotas/{id}', {
          params: { path: { id: String(quota.id) } },
          body: { hard: { storage: parsed.bytes } },
        }),
      );
      onSaved();
      onClose();
    } catch (failure) {
      setError(errorText(failure, `change the quota of project ${quota.ref.name}`));
      setBusy(false);
    }
  }

  return (
    <FormDialog
      title={`Quota of project ${quota.ref.name}`}
      submitLabel="OK"
      busyLabel="Saving…"
      onClose={onClose}
      onSubmit={(e) => void submit(e)}
      error={error}
      busy={busy}
    >
      <QuotaBar used={quota.used.storage} hard={quota.hard.storage} label={`Storage of project ${quota.ref.name}`} />
      <div className="field field-inline">
        <input
          id={ids.unlimited}
          type="checkbox"
          checked={unlimited}
          onChange={(e) => setUnlimited(e.target.checked)}
        />
        <label htmlFor={ids.unlimited}>No limit</label>
      </div>
      <div className="field">
        <label htmlFor={ids.amount}>Storage limit</label>
        <div className="field-row">
          <input
            id={ids.amount}
            type="number"
            min={0}
            step="any"
            value={amount}
            disabled={unlimited}
            aria-invalid={submitted && problem ? true : undefined}
            onChange={(e) => setAmount(e.target.value)}
          />
          <label htmlFor={ids.unit} className="visually-hidden">
            Unit
          </label>
          <select
            id={ids.unit}
            value={unit}
            disabled={unlimited}
            onChange={(e) => setUnit(e.target.value as StorageUnit)}
          >
            {STORAGE_UNITS.map((u) => (
              <option key={u} value={u}>
                {u}
              </option>
            ))}
          </select>
        </div>
        {submitted && problem ? (
          <p className="field-error" role="alert">
            {problem}
          </p>
        ) : null}
        {below ? (
          <p className="hint" role="note">
            The project already uses {formatBytes(quota.used.storage)}, more than this limit: pushes that add data will
            be refused until it shrinks.
          </p>
        ) : null}
      </div>
    </FormDialog>
  );
}

/** Storage quotas of every project (/admin/quotas), with usage bars and "Edit" for the limit. */
export function QuotasPage() {
  const api = useApi();
  const toast = useToast();
  const queryClient = useQueryClient();
  const admin = useIsAdmin();
  const sortId = useId();
  const { page, pageSize, setPage, setPageSize } = usePageParams();
  const [params, setParams] = useSearchParams();
  const sort = SORTS.find((s) => s.value === params.get('sort'))?.value ?? '';
  const [editing, setEditing] = useState<Quota | null>(null);

  const quotas = useQuery({
    queryKey: [...QUOTAS_KEY, page, pageSize, sort],
    queryFn: async () =>
      toPage(
        await api.GET('/api/v2.0/quotas', {
          params: {
            query: {
              reference: 'project',
              page: page,
              page_size: pageSize,
              ...(sort ? { sort } : {}),
            },
          },
        }),
        page,
        pageSize,
      ),
    placeholderData: keepPreviousData,
    enabled: admin,
  });

  if (!admin) return <NotAllowed what="the project quotas" />;

  return (
    <section>
      <PageHeader title="Quotas" description="How much storage each project uses, and its limit." />
      <div className="toolbar">
        <div className="field">
          <label htmlFor={sortId}>Sort by</label>
          <select
            id={sortId}
            value={sort}
            onChange={(e) =>
              setParams(
                (previous) => {
                  const next = new URLSearchParams(previous);
                  if (e.target.value) next.set('sort', e.target.value);
                  else next.delete('sort');
                  next.delete('page');
                  return next;
                },
                { replace: true },
              )
            }
          >
            {SORTS.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </div>
      </div>
      <QueryState
        query={quotas}
        action="load the quotas"
        loadingLabel="Loading quotas…"
        isEmpty={(data) => data.total === 0 && data.items.length === 0}
        empty={<p>There are no projects yet, so no quotas.</p>}
      >
        {(data) => (
          <PagedTable
            caption="Project quotas"
            headers={
              <>
                <th scope="col">Project</th>
                <th scope="col">Owner</th>
                <th scope="col">Storage</th>
                <th scope="col">Limit</th>
                <th scope="col">Actions</th>
              </>
            }
            columns={5}
            itemCount={data.items.length}
            emptyText="No quotas on this page."
            page={page}
            pageSize={pageSize}
            total={data.total}
            onPageChange={setPage}
            onPageSizeChange={setPageSize}
            label="quotas"
          >
            {data.items.map((quota) => (
              <tr key={quota.id}>
                <td>
                  <Link to={`/projects/${quota.ref.id}/summary`}>{quota.ref.name}</Link>
                </td>
                <td>{quota.ref.owner_name ?? '—'}</td>
                <td className={shared.meterCell}>
                  <QuotaBar
                    used={quota.used.storage}
                    hard={quota.hard.storage}
                    label={`Storage of project ${quota.ref.name}`}
                  />
                </td>
                <td className="nowrap">{quota.hard.storage < 0 ? 'No limit' : formatBytes(quota.hard.storage)}</td>
                <td className="actions">
                  <button
                    type="button"
                    className="button button-small"
                    aria-label={`Edit quota of ${quota.ref.name}`}
                    onClick={() => setEditing(quota)}
                  >
                    Edit
                  </button>
                </td>
              </tr>
            ))}
          </PagedTable>
        )}
      </QueryState>
      {editing ? (
        <EditQuotaDialog
          quota={editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            void queryClient.invalidateQueries({ queryKey: QUOTAS_KEY });
            // Project summaries show the quota too.
            void queryClient.invalidateQueries({ queryKey: ['projects'] });
            toast.success(`Quota of project ${editing.ref.name} saved.`);
          }}
        />
      ) : null}
    </section>
  );
}
