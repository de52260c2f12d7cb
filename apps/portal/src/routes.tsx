import { Navigate, Route, Routes } from 'react-router';
import { Layout } from './components/Layout.js';
import { NotFound, RequireAdmin, RequireAuth } from './components/Guards.js';
import { LoginPage } from './pages/login/LoginPage.js';
import { AccountPage } from './pages/account/AccountPage.js';
import { ProjectsPage } from './pages/projects/ProjectsPage.js';
import { ProjectLayout } from './pages/project/ProjectLayout.js';
import { ProjectSummaryPage } from './pages/project/ProjectSummaryPage.js';
import { ProjectConfigurationPage } from './pages/project/ProjectConfigurationPage.js';
import { RepositoriesPage } from './pages/repositories/RepositoriesPage.js';
import { ArtifactsPage } from './pages/artifacts/ArtifactsPage.js';
import { ArtifactPage } from './pages/artifacts/ArtifactPage.js';
import { MembersPage } from './pages/members/MembersPage.js';
import { ProjectRobotsPage } from './pages/robots/ProjectRobotsPage.js';
import { ProjectLogsPage } from './pages/logs/ProjectLogsPage.js';
import { PolicyPage } from './pages/policy/PolicyPage.js';
import { UsersPage } from './pages/admin/UsersPage.js';
import { SystemRobotsPage } from './pages/admin/SystemRobotsPage.js';
import { QuotasPage } from './pages/admin/QuotasPage.js';
import { AuditLogsPage } from './pages/admin/AuditLogsPage.js';
import { CleanUpPage, GcTab, PurgeTab } from './pages/cleanup/CleanUpPage.js';
import { JobServicePage } from './pages/jobservice/JobServicePage.js';
import { ScannersPage } from './pages/scanners/ScannersPage.js';

/** Every address of the portal. Others link to these paths and tests open them; keep them stable. */
export function AppRoutes() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route
        element={
          <RequireAuth>
            <Layout />
          </RequireAuth>
        }
      >
        <Route index element={<Navigate to="/projects" replace />} />
        <Route path="account" element={<AccountPage />} />
        <Route path="projects" element={<ProjectsPage />} />
        <Route path="projects/:projectId" element={<ProjectLayout />}>
          <Route index element={<Navigate to="summary" replace />} />
          <Route path="summary" element={<ProjectSummaryPage />} />
          <Route path="repositories" element={<RepositoriesPage />} />
          <Route path="repositories/:repo" element={<ArtifactsPage />} />
          <Route path="repositories/:repo/artifacts/:digest" element={<ArtifactPage />} />
          <Route path="members" element={<MembersPage />} />
          <Route path="robots" element={<ProjectRobotsPage />} />
          <Route path="policy" element={<PolicyPage />} />
          <Route path="logs" element={<ProjectLogsPage />} />
          <Route path="configuration" element={<ProjectConfigurationPage />} />
          <Route path="*" element={<NotFound />} />
        </Route>
        <Route path="admin" element={<RequireAdmin />}>
          <Route index element={<Navigate to="users" replace />} />
          <Route path="users" element={<UsersPage />} />
          <Route path="robots" element={<SystemRobotsPage />} />
          <Route path="quotas" element={<QuotasPage />} />
          <Route path="audit-logs" element={<AuditLogsPage />} />
          <Route path="job-service-dashboard" element={<JobServicePage />} />
          <Route path="interrogation-services" element={<Navigate to="scanners" replace />} />
          <Route path="interrogation-services/scanners" element={<ScannersPage />} />
          <Route path="cleanup" element={<CleanUpPage />}>
            <Route index element={<Navigate to="gc" replace />} />
            <Route path="gc" element={<GcTab />} />
            <Route path="purge-audit" element={<PurgeTab />} />
          </Route>
        </Route>
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}
