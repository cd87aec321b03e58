// Project settings, for the project's Admins whatever their Grafana role: members and roles,
// how Grafana roles and teams map to project roles, invitations, agent credentials, API tokens,
// and the database roles Grafana alert rules read the project as.
import React from 'react';
import { useLocation } from 'react-router-dom';
import { Alert, Tab, TabContent, TabsBar } from '@grafana/ui';
import { AppPage } from '../../components/common/AppPage';
import { Loading } from '../../components/common/PageState';
import { useSession } from '../../hooks/useSession';
import { AgentsTab } from './AgentsTab';
import { AlertingTab } from './AlertingTab';
import { InvitationsTab } from './InvitationsTab';
import { MembersTab } from './MembersTab';
import { RoleMappingTab } from './RoleMappingTab';
import { TokensTab } from './TokensTab';

const TABS = [
  { id: 'members', label: 'Members', body: MembersTab },
  { id: 'roles', label: 'Role mapping', body: RoleMappingTab },
  { id: 'invitations', label: 'Invitations', body: InvitationsTab },
  { id: 'agents', label: 'Agents', body: AgentsTab },
  { id: 'tokens', label: 'API tokens', body: TokensTab },
  { id: 'alerting', label: 'Alerting', body: AlertingTab },
];

function SettingsPage() {
  const { pathname, search } = useLocation();
  const { allows, loading, me } = useSession();
  const params = new URLSearchParams(search);
  const active = TABS.find((t) => t.id === params.get('tab')) ?? TABS[0]!;
  const hrefFor = (id: string) => {
    const p = new URLSearchParams(search);
    p.set('tab', id);
    // Absolute: Grafana's link handling takes an href without a leading slash from the root.
    return `${pathname}?${p.toString()}`;
  };
  const Body = active.body;
  return (
    <AppPage>
      {!me && loading ? (
        <Loading />
      ) : !allows('admin') ? (
        <Alert severity="info" title="Project settings need the Admin role">
          You are {me?.role ?? 'not a member'} in {me?.project.name ?? 'this project'}. Ask a project Admin or Owner.
        </Alert>
      ) : (
        <>
          <TabsBar>
            {TABS.map((t) => (
              <Tab key={t.id} label={t.label} active={t.id === active.id} href={hrefFor(t.id)} />
            ))}
          </TabsBar>
          <TabContent>
            <Body />
          </TabContent>
        </>
      )}
    </AppPage>
  );
}

export default SettingsPage;
