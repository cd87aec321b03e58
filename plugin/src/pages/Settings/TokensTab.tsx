import React, { useState } from 'react';
import { Badge, Button, ClipboardButton, Field, Input, Combobox, Stack } from '@grafana/ui';
import { ConfirmOnItem } from '../../components/common/ConfirmOnItem';
import { createToken, listTokens, revokeToken } from '../../api/service';
import type { ApiToken, ProjectRole } from '../../api/types';
import { DataTable } from '../../components/common/DataTable';
import { LoadOlder } from '../../components/common/LoadOlder';
import { pendingState, Refused, ReloadFailed } from '../../components/common/PageState';
import { PAGE_SIZE, usePagedList } from '../../hooks/usePagedList';
import { useSession } from '../../hooks/useSession';
import { formatTime } from '../../utils/format';
import { grantableRoles } from './MembersTab';
import { useGuard } from '../../hooks/useGuard';
import { SecretModal } from './SecretModal';

/** A token's role, and the lower one it acts with while its maker's role in the project is lower. */
function TokenRole({ token }: { token: ApiToken }) {
  const acts = token.effectiveRole;
  if (token.revokedAt || acts === undefined || acts === token.role) {
    return <>{token.role}</>;
  }
  return (
    <Stack gap={1} alignItems="center">
      <span>{token.role}</span>
      <Badge
        color="orange"
        icon="exclamation-triangle"
        text={`acts as ${acts ?? 'no role'}`}
        tooltip={`Its maker's role in this project is now ${acts ?? 'none'}: a token never acts above its maker. It acts as ${token.role} again if the maker gets that role back.`}
      />
    </Stack>
  );
}

export function TokensTab() {
  const { project, me } = useSession();
  const tokens = usePagedList(
    (cursor) =>
      listTokens(project, { limit: PAGE_SIZE, cursor }).then((p) => ({ rows: p.tokens, nextCursor: p.nextCursor })),
    (t) => t.id,
    [project]
  );
  const { busy, error, guard } = useGuard();
  const [name, setName] = useState('');
  const [role, setRole] = useState<ProjectRole>('viewer');
  const [days, setDays] = useState(90);
  // The token just made, with its secret: shown once, until the user closes it.
  const [created, setCreated] = useState<{ token: ApiToken; secret: string } | null>(null);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);

  const pending = pendingState(tokens, 'API tokens');
  if (pending || !tokens.value) {
    return pending;
  }
  return (
    <div>
      <ReloadFailed state={tokens} what="API tokens" />
      <p>
        Tokens let scripts and CI call the z4j API directly (header <code>Authorization: Bearer …</code>).
      </p>
      <Stack gap={1} alignItems="flex-end">
        <Field label="Name">
          <Input id="token-name" width={28} value={name} onChange={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field label="Role">
          <Combobox
            id="token-role"
            width={16}
            options={grantableRoles(me?.role).filter((o) => o.value !== 'owner')}
            value={role}
            onChange={(o) => setRole(o.value)}
          />
        </Field>
        <Field label="Expires in (days)">
          <Input
            id="token-days"
            type="number"
            width={12}
            min={1}
            max={365}
            value={days}
            onChange={(e) => setDays(Number(e.currentTarget.value))}
          />
        </Field>
        <Button
          disabled={busy || name.trim() === '' || days < 1 || days > 365}
          onClick={() =>
            guard(async () => {
              setCreated(await createToken(name.trim(), role, days, project));
              setName('');
              await tokens.reload();
            })
          }
        >
          Create token
        </Button>
      </Stack>
      {created && (
        <SecretModal title={`API token ${created.token.name} created`} onClose={() => setCreated(null)}>
          <Field label="Token" description="Copy the token now: it is not shown again.">
            <Input
              id="created-token"
              readOnly
              value={created.secret}
              addonAfter={
                <ClipboardButton icon="copy" variant="primary" getText={() => created.secret}>
                  Copy
                </ClipboardButton>
              }
            />
          </Field>
        </SecretModal>
      )}
      <Refused title="Not done" error={error} />
      <DataTable
        label="API tokens"
        emptyText="No API tokens yet: create one for scripts and CI that call z4j without Grafana."
        rows={tokens.value}
        rowKey={(t) => t.id}
        columns={[
          { header: 'Name', cell: (t) => t.name },
          { header: 'Role', cell: (t) => <TokenRole token={t} /> },
          { header: 'Created', cell: (t) => formatTime(t.createdAt) },
          { header: 'Expires', cell: (t) => formatTime(t.expiresAt) },
          { header: 'Last used', cell: (t) => formatTime(t.lastUsedAt) },
          {
            header: 'Actions',
            hideHeader: true,
            cell: (t) =>
              !t.revokedAt && (
                <Button
                  size="sm"
                  variant="destructive"
                  aria-label={`Revoke ${t.name}`}
                  disabled={busy}
                  onClick={() => setRevoking(t)}
                >
                  Revoke
                </Button>
              ),
          },
        ]}
      />
      <LoadOlder list={tokens} what="API tokens" />
      <ConfirmOnItem
        item={revoking}
        title={(token) => `Revoke the token ${token.name}?`}
        body={() => 'Scripts and CI jobs using it are refused from now on. This cannot be undone.'}
        confirmText="Revoke"
        onConfirm={(token) =>
          guard(async () => {
            await revokeToken(token.id, project);
            await tokens.reload();
          })
        }
        onDismiss={() => setRevoking(null)}
      />
    </div>
  );
}
