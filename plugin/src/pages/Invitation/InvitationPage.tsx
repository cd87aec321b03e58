// Where an invitation link lands: the signed-in Grafana user accepts it for themselves.
import React, { useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { PluginPage } from '@grafana/runtime';
import { Alert, Button, LinkButton, Text } from '@grafana/ui';
import { acceptInvitation } from '../../api/service';
import { PLUGIN_BASE_URL } from '../../constants';
import { Refused } from '../../components/common/PageState';
import { useGuard } from '../../hooks/useGuard';

function InvitationPage() {
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const { busy, error, guard } = useGuard();
  const [accepted, setAccepted] = useState<{ slug: string; role: string } | null>(null);

  return (
    <PluginPage pageNav={{ text: 'Invitation' }}>
      {!token && (
        <Alert severity="warning" title="This link has no invitation token">
          Open the link from your invitation mail again.
        </Alert>
      )}
      {token && !accepted && (
        <>
          <Text element="p">
            You were invited to a z4j project. Accepting binds the invitation to the Grafana user you are signed in as.
          </Text>
          <Button
            disabled={busy}
            onClick={() =>
              guard(async () => {
                const r = await acceptInvitation(token);
                setAccepted({ slug: r.project.slug, role: r.role });
              })
            }
          >
            Accept invitation
          </Button>
        </>
      )}
      {accepted && (
        <Alert severity="success" title={`You are now ${accepted.role} in ${accepted.slug}`}>
          <LinkButton href={`${PLUGIN_BASE_URL}/tasks?project=${encodeURIComponent(accepted.slug)}`}>
            Open its tasks
          </LinkButton>
        </Alert>
      )}
      <Refused title="The invitation could not be accepted" error={error} />
    </PluginPage>
  );
}

export default InvitationPage;
