import React, { useState } from 'react';
import { Alert, Badge, Button, Field, Input, Combobox, Stack } from '@grafana/ui';
import { ConfirmOnItem } from '../../components/common/ConfirmOnItem';
import { createInvitation, listInvitations, revokeInvitation } from '../../api/service';
import type { Invitation, ProjectRole } from '../../api/types';
import { DataTable } from '../../components/common/DataTable';
import { LoadOlder } from '../../components/common/LoadOlder';
import { pendingState, Refused, ReloadFailed } from '../../components/common/PageState';
import { PAGE_SIZE, usePagedList } from '../../hooks/usePagedList';
import { useSession } from '../../hooks/useSession';
import { formatTime } from '../../utils/format';
import { grantableRoles } from './MembersTab';
import { useGuard } from '../../hooks/useGuard';

const stateOf = (i: Invitation) =>
  i.acceptedAt ? 'accepted' : i.revokedAt ? 'revoked' : new Date(i.expiresAt) < new Date() ? 'expired' : 'pending';

export function InvitationsTab() {
  const { project, me } = useSession();
  const invitations = usePagedList(
    (cursor) =>
      listInvitations(project, { limit: PAGE_SIZE, cursor }).then((p) => ({
        rows: p.invitations,
        nextCursor: p.nextCursor,
      })),
    (i) => i.id,
    [project]
  );
  const { busy, error, guard } = useGuard();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<ProjectRole>('viewer');
  const [sent, setSent] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<Invitation | null>(null);

  const pending = pendingState(invitations, 'invitations');
  if (pending || !invitations.value) {
    return pending;
  }
  return (
    <div>
      <ReloadFailed state={invitations} what="invitations" />
      <Stack gap={1} alignItems="flex-end">
        <Field label="Email">
          <Input
            id="invite-email"
            type="email"
            width={32}
            value={email}
            onChange={(e) => setEmail(e.currentTarget.value)}
          />
        </Field>
        <Field label="Role">
          <Combobox
            id="invite-role"
            width={16}
            options={grantableRoles(me?.role)}
            value={role}
            onChange={(o) => setRole(o.value)}
          />
        </Field>
        <Button
          disabled={busy || !email.includes('@')}
          onClick={() =>
            guard(async () => {
              await createInvitation(email, role, project);
              setSent(email);
              setEmail('');
              await invitations.reload();
            })
          }
        >
          Send invitation
        </Button>
      </Stack>
      {sent && <Alert severity="success" title={`Invitation sent to ${sent}`} onRemove={() => setSent(null)} />}
      <Refused title="Not sent" error={error} />
      <DataTable
        label="Invitations"
        emptyText="No invitations yet."
        rows={invitations.value}
        rowKey={(i) => i.id}
        columns={[
          { header: 'Email', cell: (i) => i.email },
          { header: 'Role', cell: (i) => i.role },
          {
            header: 'State',
            cell: (i) => (
              <Badge
                text={stateOf(i)}
                color={stateOf(i) === 'pending' ? 'blue' : stateOf(i) === 'accepted' ? 'green' : 'darkgrey'}
              />
            ),
          },
          { header: 'Invited by', cell: (i) => i.invitedBy ?? '—' },
          { header: 'Expires', cell: (i) => formatTime(i.expiresAt) },
          {
            header: 'Actions',
            hideHeader: true,
            cell: (i) =>
              stateOf(i) === 'pending' && (
                <Button
                  size="sm"
                  variant="secondary"
                  aria-label={`Revoke ${i.email}`}
                  disabled={busy}
                  onClick={() => setRevoking(i)}
                >
                  Revoke
                </Button>
              ),
          },
        ]}
      />
      <LoadOlder list={invitations} what="invitations" />
      <ConfirmOnItem
        item={revoking}
        title={(invitation) => `Revoke the invitation to ${invitation.email}?`}
        body={() => 'The link in the invitation mail stops working. You can invite the address again later.'}
        confirmText="Revoke"
        onConfirm={(invitation) =>
          guard(async () => {
            await revokeInvitation(invitation.id, project);
            await invitations.reload();
          })
        }
        onDismiss={() => setRevoking(null)}
      />
    </div>
  );
}
