import React, { useState } from 'react';
import { Alert, Button, Field, Input, Combobox, Stack } from '@grafana/ui';
import { getRoleMapping, putRoleMapping } from '../../api/service';
import type { ProjectRole, RoleMapping } from '../../api/types';
import { pendingState, Refused } from '../../components/common/PageState';
import { useAsync } from '../../hooks/useAsync';
import { useSession } from '../../hooks/useSession';
import { ROLE_OPTIONS } from './MembersTab';
import { useGuard } from '../../hooks/useGuard';

// Combobox values are strings: 'none' stands for "no role from this rule".
const OR_NONE: Array<{ label: string; value: ProjectRole | 'none' }> = [
  { label: 'no access', value: 'none' },
  ...ROLE_OPTIONS,
];
const fromOption = (v: ProjectRole | 'none'): ProjectRole | null => (v === 'none' ? null : v);
const ORG_ROLES = ['Admin', 'Editor', 'Viewer', 'None'] as const;

export function RoleMappingTab() {
  const { project } = useSession();
  const loaded = useAsync(() => getRoleMapping(project), [project]);
  const pending = pendingState(loaded, 'the role mapping');
  if (pending || !loaded.value) {
    return pending;
  }
  return <RoleMappingForm initial={loaded.value.roleMapping} project={project} />;
}

/** Edits a copy of the mapping; nothing changes on the service until Save. */
function RoleMappingForm({ initial, project }: { initial: RoleMapping; project?: string }) {
  const { allows } = useSession();
  const [mapping, setMapping] = useState<RoleMapping>(initial);
  const { busy, error, guard } = useGuard();
  const [saved, setSaved] = useState(false);
  const set = (patch: Partial<RoleMapping>) => {
    setSaved(false);
    setMapping({ ...mapping, ...patch });
  };
  return (
    <div>
      <p>
        Which project role a Grafana user gets from their organization role, server admin flag and teams (the highest
        wins).
        {!allows('owner') && ' Only an Owner adds or removes a rule that grants Owner.'}
      </p>
      <Stack gap={2} wrap="wrap">
        {ORG_ROLES.map((r) => (
          <Field key={r} label={`Grafana ${r}`}>
            <Combobox
              id={`map-${r}`}
              width={18}
              options={OR_NONE}
              value={mapping.orgRoles[r] ?? 'none'}
              onChange={(o) => set({ orgRoles: { ...mapping.orgRoles, [r]: fromOption(o.value) } })}
            />
          </Field>
        ))}
        <Field label="Grafana server admin">
          <Combobox
            id="map-server-admin"
            width={18}
            options={OR_NONE}
            value={mapping.serverAdmin ?? 'none'}
            onChange={(o) => set({ serverAdmin: fromOption(o.value) })}
          />
        </Field>
      </Stack>
      {/* Level 2 under the page's title, in the look of the h4 it was (Grafana's global .h4). */}
      <h2 className="h4">Teams</h2>
      {mapping.teams.map((t, i) => (
        <Stack key={i} gap={1} alignItems="flex-end">
          <Field label="Team id">
            <Input
              id={`team-${i}-id`}
              type="number"
              width={12}
              value={t.teamId}
              onChange={(e) =>
                set({
                  teams: mapping.teams.map((x, j) => (j === i ? { ...x, teamId: Number(e.currentTarget.value) } : x)),
                })
              }
            />
          </Field>
          <Field label="Role">
            <Combobox
              id={`team-${i}-role`}
              width={16}
              options={ROLE_OPTIONS}
              value={t.role}
              onChange={(o) => set({ teams: mapping.teams.map((x, j) => (j === i ? { ...x, role: o.value } : x)) })}
            />
          </Field>
          <Button
            variant="secondary"
            icon="trash-alt"
            aria-label={t.teamId ? `Remove the rule for team ${t.teamId}` : `Remove team rule ${i + 1}`}
            onClick={() => set({ teams: mapping.teams.filter((_, j) => j !== i) })}
          />
        </Stack>
      ))}
      <Stack gap={1}>
        <Button
          variant="secondary"
          icon="plus"
          onClick={() => set({ teams: [...mapping.teams, { teamId: 1, role: 'viewer' }] })}
        >
          Add team rule
        </Button>
        <Button
          disabled={busy}
          onClick={() =>
            guard(async () => {
              setMapping((await putRoleMapping(mapping, project)).roleMapping);
              setSaved(true);
            })
          }
        >
          Save mapping
        </Button>
      </Stack>
      {saved && <Alert severity="success" title="Role mapping saved" />}
      <Refused title="Not saved" error={error} />
    </div>
  );
}
