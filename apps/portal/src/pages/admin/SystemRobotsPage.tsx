import { useIsAdmin } from '../../api/session.js';
import { NotAllowed } from '../../components/Guards.js';
import { PageHeader } from '../../components/PageHeader.js';
import { RobotsPanel } from '../robots/RobotsPanel.js';

/** System robot accounts (/admin/robots): system permissions and project permissions over all or chosen projects. */
export function SystemRobotsPage() {
  const admin = useIsAdmin();
  if (!admin) return <NotAllowed what="the system robot accounts" />;
  return (
    <section>
      <PageHeader
        title="Robot accounts"
        description="System robot accounts: they may hold system permissions and permissions in all or chosen projects."
      />
      <RobotsPanel scope={{ level: 'system' }} can={{ create: true, update: true, delete: true }} />
    </section>
  );
}
