import React, { useState } from 'react';
import { Button, Field, Input, Combobox, Stack } from '@grafana/ui';
import { listMembers, putMember, removeMember } from '../../api/service';
import type { ProjectRole } from '../../api/types';
import { DataTable } from '../../components/common/DataTable';
import { pendingState, Refused } from '../../components/common/PageState';
import { useAsync } from '../../hooks/useAsync';
import { useSession } from '../../hooks/useSession';
import { useGuard } from '../../hooks/useGuard';

export const ROLE_OPTIONS = (['viewer', 'operator', 'admin', 'owner'] as ProjectRole[]).map((r) => ({
  label: r,
  value: r,
}));

export function MembersTab() {
  const { project } = useSession();
  const members = useAsync(() => listMembers(project), [project]);
  const { busy, error, guard } = useGuard();
  const [userId, setUserId] = useState('');
  const [login, setLogin] = useState('');
  const [role, setRole] = useState<ProjectRole>('viewer');

  const pending = pendingState(members, 'members');
  if (pending || !members.value) {
    return pending;
  }
  return (
    <div>
      <p>Explicit roles for Grafana users; they take precedence over the role mapping.</p>
      <DataTable
        label="Members"
        rows={members.value.members}
        rowKey={(m) => m.userId}
        columns={[
          { header: 'Login', cell: (m) => m.login },
          { header: 'Name', cell: (m) => m.name ?? '—' },
          { header: 'Grafana user id', cell: (m) => m.userId },
          {
            header: 'Role',
            cell: (m) => (
              <Combobox
                id={`member-role-${m.userId}`}
                width={16}
                options={ROLE_OPTIONS}
                value={m.role}
                onChange={(o) =>
                  guard(async () => {
                    await putMember(m.userId, { login: m.login, role: o.value }, project);
                    await members.reload();
                  })
                }
              />
            ),
          },
          {
            header: '',
            cell: (m) => (
              <Button
                size="sm"
                variant="destructive"
                fill="text"
                icon="trash-alt"
                aria-label={`Remove ${m.login}`}
                disabled={busy}
                onClick={() =>
                  guard(async () => {
                    await removeMember(m.userId, project);
                    await members.reload();
                  })
                }
              />
            ),
          },
        ]}
      />
      <Stack gap={1} alignItems="flex-end">
        <Field label="Grafana user id">
          <Input id="member-id" width={16} value={userId} onChange={(e) => setUserId(e.currentTarget.value)} />
        </Field>
        <Field label="Login">
          <Input id="member-login" width={24} value={login} onChange={(e) => setLogin(e.currentTarget.value)} />
        </Field>
        <Field label="Role">
          <Combobox
            id="member-role"
            width={16}
            options={ROLE_OPTIONS}
            value={role}
            onChange={(o) => setRole(o.value)}
          />
        </Field>
        <Button
          disabled={busy || !/^\d+$/.test(userId) || !login}
          onClick={() =>
            guard(async () => {
              await putMember(userId, { login, role }, project);
              setUserId('');
              setLogin('');
              await members.reload();
            })
          }
        >
          Add member
        </Button>
      </Stack>
      <Refused title="Not saved" error={error} />
    </div>
  );
}
