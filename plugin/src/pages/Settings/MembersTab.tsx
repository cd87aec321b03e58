import React, { useRef, useState } from 'react';
import { Button, Field, Input, Combobox, Stack, type ComboboxOption } from '@grafana/ui';
import { lookupGrafanaUsers, type GrafanaOrgUser } from '../../api/grafana';
import { ConfirmOnItem } from '../../components/common/ConfirmOnItem';
import { listMembers, putMember, removeMember } from '../../api/service';
import type { Member, ProjectRole } from '../../api/types';
import { DataTable } from '../../components/common/DataTable';
import { pendingState, Refused, ReloadFailed } from '../../components/common/PageState';
import { useAsync } from '../../hooks/useAsync';
import { roleAtLeast, useSession } from '../../hooks/useSession';
import { useGuard } from '../../hooks/useGuard';

export const ROLE_OPTIONS = (['viewer', 'operator', 'admin', 'owner'] as ProjectRole[]).map((r) => ({
  label: r,
  value: r,
}));

/** The roles `myRole` may grant: the service refuses the others (only an Owner grants owner). */
export const grantableRoles = (myRole: ProjectRole | null | undefined) =>
  ROLE_OPTIONS.filter((o) => roleAtLeast(myRole, o.value));

export function MembersTab() {
  const { project, me } = useSession();
  const members = useAsync(() => listMembers(project), [project]);
  const { busy, error, guard } = useGuard();
  const [userId, setUserId] = useState('');
  const [login, setLogin] = useState('');
  const [picked, setPicked] = useState<GrafanaOrgUser | null>(null);
  const [role, setRole] = useState<ProjectRole>('viewer');
  const [removing, setRemoving] = useState<Member | null>(null);
  const roles = grantableRoles(me?.role);
  // The users the search last offered, by id: picking one fills in its id and login.
  const found = useRef(new Map<string, GrafanaOrgUser>());
  const findUsers = async (query: string): Promise<Array<ComboboxOption<string>>> => {
    const users = await lookupGrafanaUsers(query).catch(() => []); // no permission: the id and login fields remain
    for (const u of users) {
      found.current.set(String(u.userId), u);
    }
    return users.map((u) => ({
      value: String(u.userId),
      label: u.name && u.name !== u.login ? `${u.name} (${u.login})` : u.login,
      description: u.email,
    }));
  };
  // Changing or removing a member needs the member's role too: an Admin cannot touch an Owner.
  const canManage = (m: Member) => roleAtLeast(me?.role, m.role);

  const pending = pendingState(members, 'members');
  if (pending || !members.value) {
    return pending;
  }
  return (
    <div>
      <ReloadFailed state={members} what="members" />
      <p>Explicit roles for Grafana users; they take precedence over the role mapping.</p>
      <DataTable
        label="Members"
        emptyText="No members yet: people get a role here from the role mapping, an invitation, or the form below."
        rows={members.value.members}
        rowKey={(m) => m.userId}
        columns={[
          { header: 'Login', cell: (m) => m.login },
          { header: 'Name', cell: (m) => m.name ?? '—' },
          { header: 'Grafana user id', cell: (m) => m.userId },
          {
            header: 'Role',
            cell: (m) =>
              canManage(m) ? (
                <>
                  {/* For screen readers only (Grafana's global sr-only): the column header is its visible label. */}
                  <label htmlFor={`member-role-${m.userId}`} className="sr-only">
                    Role of {m.login}
                  </label>
                  <Combobox
                    id={`member-role-${m.userId}`}
                    width={16}
                    options={roles}
                    value={m.role}
                    onChange={(o) =>
                      guard(async () => {
                        await putMember(m.userId, { login: m.login, role: o.value }, project);
                        await members.reload();
                      })
                    }
                  />
                </>
              ) : (
                m.role
              ),
          },
          {
            header: 'Actions',
            hideHeader: true,
            cell: (m) =>
              canManage(m) && (
                <Button
                  size="sm"
                  variant="destructive"
                  fill="text"
                  icon="trash-alt"
                  aria-label={`Remove ${m.login}`}
                  disabled={busy}
                  onClick={() => setRemoving(m)}
                />
              ),
          },
        ]}
      />
      <Stack gap={1} alignItems="flex-end" wrap="wrap">
        <Field label="Grafana user" description="Search by name, login or email">
          <Combobox<string>
            id="member-user"
            width={32}
            placeholder="Find a user"
            options={findUsers}
            value={picked ? String(picked.userId) : null}
            isClearable
            onChange={(o) => {
              const user = o ? (found.current.get(o.value) ?? null) : null;
              setPicked(user);
              setUserId(user ? String(user.userId) : '');
              setLogin(user?.login ?? '');
            }}
          />
        </Field>
        <Field label="Grafana user id">
          <Input
            id="member-id"
            width={16}
            value={userId}
            onChange={(e) => {
              setPicked(null);
              setUserId(e.currentTarget.value);
            }}
          />
        </Field>
        <Field label="Login">
          <Input id="member-login" width={24} value={login} onChange={(e) => setLogin(e.currentTarget.value)} />
        </Field>
        <Field label="Role">
          <Combobox id="member-role" width={16} options={roles} value={role} onChange={(o) => setRole(o.value)} />
        </Field>
        <Button
          disabled={busy || !/^\d+$/.test(userId) || !login}
          onClick={() =>
            guard(async () => {
              const who = picked?.login === login ? { email: picked.email || null, name: picked.name || null } : {};
              await putMember(userId, { login, role, ...who }, project);
              setUserId('');
              setLogin('');
              setPicked(null);
              await members.reload();
            })
          }
        >
          Add member
        </Button>
      </Stack>
      <Refused title="Not saved" error={error} />
      <ConfirmOnItem
        item={removing}
        title={(member) => `Remove ${member.login}?`}
        body={(member) =>
          `${member.login} loses the ${member.role} role given here; what the role mapping gives them stays.`
        }
        confirmText="Remove"
        onConfirm={(member) =>
          guard(async () => {
            await removeMember(member.userId, project);
            await members.reload();
          })
        }
        onDismiss={() => setRemoving(null)}
      />
    </div>
  );
}
