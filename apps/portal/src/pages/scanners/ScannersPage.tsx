import { useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { unwrap } from '@wharf/api-client';
import { useApi } from '../../api/client.js';
import { useIsAdmin } from '../../api/session.js';
import { Badge } from '../../components/Badge.js';
import { ConfirmDialog } from '../../components/ConfirmDialog.js';
import { NotAllowed } from '../../components/Guards.js';
import { PageHeader } from '../../components/PageHeader.js';
import { QueryState } from '../../components/QueryState.js';
import { Table } from '../../components/Table.js';
import { useToast } from '../../components/Toast.js';
import { ScannerDialog } from './ScannerDialog.js';
import { SCANNERS_KEY, type ScannerRegistration, useScannerMetadata, useScanners } from './scanners.js';

type Pending =
  | { kind: 'default'; scanner: ScannerRegistration }
  | { kind: 'toggle'; scanner: ScannerRegistration }
  | { kind: 'delete'; scanner: ScannerRegistration };

/** Health, vendor and version of a registration, from its adapter's metadata (a disabled one is not asked). */
function Health({ scanner }: { scanner: ScannerRegistration }) {
  const metadata = useScannerMetadata(scanner.uuid, !scanner.disabled);
  if (scanner.disabled) return <td colSpan={3}>—</td>;
  if (metadata.isPending) {
    return (
      <td colSpan={3}>
        <span className="hint">Asking…</span>
      </td>
    );
  }
  if (metadata.isError) {
    return (
      <td colSpan={3}>
        <Badge tone="danger">Unhealthy</Badge>
      </td>
    );
  }
  return (
    <>
      <td>
        <Badge tone="success">Healthy</Badge>
      </td>
      <td>{metadata.data.scanner.vendor}</td>
      <td>{metadata.data.scanner.version}</td>
    </>
  );
}

/** Administration → Interrogation Services (/admin/interrogation-services/scanners): the scanners Wharf uses. */
export function ScannersPage() {
  const admin = useIsAdmin();
  if (!admin) return <NotAllowed what="manage scanners" />;
  return <Scanners />;
}

function Scanners() {
  const api = useApi();
  const queryClient = useQueryClient();
  const toast = useToast();
  const scanners = useScanners();
  const [adding, setAdding] = useState(false);
  const [pending, setPending] = useState<Pending | null>(null);

  async function change(p: Pending): Promise<void> {
    const path = { params: { path: { registration_id: p.scanner.uuid } } };
    if (p.kind === 'default') {
      unwrap(await api.PATCH('/api/v2.0/scanners/{registration_id}', { ...path, body: { is_default: true } }));
      toast.success(`${p.scanner.name} is now the default scanner.`);
    } else if (p.kind === 'toggle') {
      const { scanner } = p;
      unwrap(
        await api.PUT('/api/v2.0/scanners/{registration_id}', {
          ...path,
          body: {
            name: scanner.name,
            description: scanner.description,
            url: scanner.url,
            auth: scanner.auth,
            skip_certVerify: scanner.skip_certVerify,
            use_internal_addr: scanner.use_internal_addr,
            disabled: !scanner.disabled,
          },
        }),
      );
      toast.success(`Scanner ${scanner.name} is ${scanner.disabled ? 'enabled' : 'disabled'}.`);
    } else {
      unwrap(await api.DELETE('/api/v2.0/scanners/{registration_id}', path));
      toast.success(`Scanner ${p.scanner.name} deleted.`);
    }
    await queryClient.invalidateQueries({ queryKey: SCANNERS_KEY });
  }

  return (
    <section>
      <PageHeader
        title="Interrogation Services"
        description="The scanners that look for known vulnerabilities in artifacts. Projects use the default one unless they choose another."
        actions={
          <button type="button" className="button button-primary" onClick={() => setAdding(true)}>
            New scanner
          </button>
        }
      />
      <QueryState
        query={scanners}
        action="load the scanners"
        isEmpty={(list) => list.length === 0}
        empty="No scanners are registered."
      >
        {(list) => (
          <Table
            caption="Scanners"
            headers={
              <>
                <th scope="col">Name</th>
                <th scope="col">Endpoint</th>
                <th scope="col">Default</th>
                <th scope="col">Health</th>
                <th scope="col">Vendor</th>
                <th scope="col">Version</th>
                <th scope="col">Enabled</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </>
            }
          >
            {list.map((scanner) => (
              <tr key={scanner.uuid}>
                <td>
                  {scanner.name}
                  {scanner.immutable ? <span className="hint"> (built in)</span> : null}
                  {scanner.description ? <div className="hint">{scanner.description}</div> : null}
                </td>
                <td className="mono">{scanner.url}</td>
                <td>{scanner.is_default ? <Badge tone="info">Default</Badge> : null}</td>
                <Health scanner={scanner} />
                <td>{scanner.disabled ? 'No' : 'Yes'}</td>
                <td className="actions">
                  {!scanner.is_default && !scanner.disabled ? (
                    <button
                      type="button"
                      className="button button-small"
                      aria-label={`Set ${scanner.name} as default`}
                      onClick={() => setPending({ kind: 'default', scanner })}
                    >
                      Set as default
                    </button>
                  ) : null}
                  {!scanner.immutable && !scanner.is_default ? (
                    <button
                      type="button"
                      className="button button-small"
                      aria-label={`${scanner.disabled ? 'Enable' : 'Disable'} ${scanner.name}`}
                      onClick={() => setPending({ kind: 'toggle', scanner })}
                    >
                      {scanner.disabled ? 'Enable' : 'Disable'}
                    </button>
                  ) : null}
                  {!scanner.immutable && !scanner.is_default ? (
                    <button
                      type="button"
                      className="button button-small button-danger"
                      aria-label={`Delete ${scanner.name}`}
                      onClick={() => setPending({ kind: 'delete', scanner })}
                    >
                      Delete
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </Table>
        )}
      </QueryState>
      {adding ? (
        <ScannerDialog
          onClose={() => setAdding(false)}
          onCreated={(name) => {
            setAdding(false);
            toast.success(`Scanner ${name} added.`);
          }}
        />
      ) : null}
      {pending ? (
        <ConfirmDialog
          title={
            pending.kind === 'default'
              ? 'Set default scanner'
              : pending.kind === 'toggle'
                ? `${pending.scanner.disabled ? 'Enable' : 'Disable'} scanner`
                : 'Delete scanner'
          }
          message={
            <p>
              {pending.kind === 'default'
                ? `Make ${pending.scanner.name} the scanner of every project that has not chosen its own?`
                : pending.kind === 'toggle'
                  ? pending.scanner.disabled
                    ? `Enable ${pending.scanner.name}? Projects can use it again.`
                    : `Disable ${pending.scanner.name}? Projects using it cannot scan until it is enabled again.`
                  : `Delete the scanner ${pending.scanner.name}? Its scan reports are no longer shown.`}
            </p>
          }
          confirmLabel={
            pending.kind === 'default'
              ? 'Set as default'
              : pending.kind === 'toggle'
                ? pending.scanner.disabled
                  ? 'Enable'
                  : 'Disable'
                : 'Delete'
          }
          danger={pending.kind === 'delete'}
          action={
            pending.kind === 'default'
              ? 'set the default scanner'
              : pending.kind === 'toggle'
                ? 'change the scanner'
                : 'delete the scanner'
          }
          onConfirm={() => change(pending)}
          onClose={() => setPending(null)}
        />
      ) : null}
    </section>
  );
}
