// The app's route table: one place for every page under /a/z4j-taskqueue-app/.
import React, { Suspense } from 'react';
import { Route, Routes } from 'react-router-dom';
import { AppRootProps } from '@grafana/data';
import type { AppSettings } from '../../api/types';
import { ROUTES } from '../../constants';
import { SessionProvider } from '../../hooks/useSession';
import { TimeZoneProvider } from '../../hooks/useTimeZone';
import { Loading } from '../common/PageState';

const TasksPage = React.lazy(() => import('../../pages/Tasks/TasksPage'));
const TaskDetailPage = React.lazy(() => import('../../pages/TaskDetail/TaskDetailPage'));
const WorkersPage = React.lazy(() => import('../../pages/Workers/WorkersPage'));
const QueuesPage = React.lazy(() => import('../../pages/Queues/QueuesPage'));
const SchedulesPage = React.lazy(() => import('../../pages/Schedules/SchedulesPage'));
const AuditPage = React.lazy(() => import('../../pages/Audit/AuditPage'));
const SettingsPage = React.lazy(() => import('../../pages/Settings/SettingsPage'));
const InvitationPage = React.lazy(() => import('../../pages/Invitation/InvitationPage'));

function App(_props: AppRootProps<AppSettings>) {
  return (
    <SessionProvider>
      <TimeZoneProvider>
        <Suspense fallback={<Loading />}>
          <Routes>
            <Route path={ROUTES.Tasks} element={<TasksPage />} />
            <Route path={`${ROUTES.Tasks}/:engine/:taskId`} element={<TaskDetailPage />} />
            <Route path={`${ROUTES.Tasks}/:engine/:taskId/graph`} element={<TaskDetailPage />} />
            <Route path={ROUTES.Workers} element={<WorkersPage />} />
            <Route path={ROUTES.Queues} element={<QueuesPage />} />
            <Route path={ROUTES.Schedules} element={<SchedulesPage />} />
            <Route path={ROUTES.Audit} element={<AuditPage />} />
            <Route path={ROUTES.Settings} element={<SettingsPage />} />
            <Route path={ROUTES.Invitation} element={<InvitationPage />} />

            {/* Default page */}
            <Route path="*" element={<TasksPage />} />
          </Routes>
        </Suspense>
      </TimeZoneProvider>
    </SessionProvider>
  );
}

export default App;
