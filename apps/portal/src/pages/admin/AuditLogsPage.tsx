import { useApi } from '../../api/client.js';
import { toPage } from '../../api/paging.js';
import { useIsAdmin } from '../../api/session.js';
import { NotAllowed } from '../../components/Guards.js';
import { PageHeader } from '../../components/PageHeader.js';
import { LogList } from '../logs/LogList.js';

/** The whole audit log (/admin/audit-logs), for system administrators. */
export function AuditLogsPage() {
  const api = useApi();
  const admin = useIsAdmin();
  if (!admin) return <NotAllowed what="the audit log" />;
  return (
    <section>
      <PageHeader title="Audit log" description="Every change made through Wharf, and every pull, newest first." />
      <LogList
        what="the audit log"
        queryKey={['audit-logs']}
        fetchPage={async ({ q, page, pageSize }) =>
          toPage(
            await api.GET('/api/v2.0/audit-logs', {
              params: { query: { ...(q ? { q } : {}), sort: '-op_time', page, page_size: pageSize } },
            }),
            page,
            pageSize,
          )
        }
      />
    </section>
  );
}
