import React, { useState } from 'react';
import { Badge, Button, ClipboardButton, Field, Input, RadioButtonGroup, Stack, Text } from '@grafana/ui';
import { createAgent, listAgents, revokeAgent, rotateAgent } from '../../api/service';
import { ENGINES, type AgentCredential, type MintedAgent } from '../../api/types';
import { ConfirmOnItem } from '../../components/common/ConfirmOnItem';
import { DataTable } from '../../components/common/DataTable';
import { LoadOlder } from '../../components/common/LoadOlder';
import { pendingState, Refused, ReloadFailed } from '../../components/common/PageState';
import { PAGE_SIZE, usePagedList } from '../../hooks/usePagedList';
import { useSession } from '../../hooks/useSession';
import { formatTime } from '../../utils/format';
import { AGENT_SNIPPETS, agentEnv } from './agentSnippets';
import { useGuard } from '../../hooks/useGuard';
import { SecretModal } from './SecretModal';

export function AgentsTab() {
  const { project } = useSession();
  const agents = usePagedList(
    (cursor) =>
      listAgents(project, { limit: PAGE_SIZE, cursor }).then((p) => ({ rows: p.agents, nextCursor: p.nextCursor })),
    (a) => a.id,
    [project]
  );
  const { busy, error, guard } = useGuard();
  const [name, setName] = useState('');
  // A secret just made (a new agent, or a rotation), and which: shown once, until the user closes it.
  const [secret, setSecret] = useState<{ minted: MintedAgent; rotated: boolean } | null>(null);
  const [revoking, setRevoking] = useState<AgentCredential | null>(null);
  const [rotating, setRotating] = useState<AgentCredential | null>(null);

  const pending = pendingState(agents, 'agent credentials');
  if (pending || !agents.value) {
    return pending;
  }
  return (
    <div>
      <ReloadFailed state={agents} what="agent credentials" />
      <p>
        Each agent signs its event batches with its own secret. Rotating keeps the old secret valid for an hour so
        workers can be redeployed.
      </p>
      <Stack gap={1} alignItems="flex-end">
        <Field label="Agent name">
          <Input
            id="agent-name"
            width={32}
            placeholder="e.g. billing-workers"
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
          />
        </Field>
        <Button
          disabled={busy || name.trim() === ''}
          onClick={() =>
            guard(async () => {
              setSecret({ minted: await createAgent(name.trim(), project), rotated: false });
              setName('');
              await agents.reload();
            })
          }
        >
          Create agent credential
        </Button>
      </Stack>
      <Refused title="Not done" error={error} />
      <DataTable
        label="Agents"
        emptyText="No agent credentials yet: create one for each worker fleet that runs the z4j agent."
        rows={agents.value}
        rowKey={(a) => a.id}
        columns={[
          { header: 'Name', cell: (a) => a.name },
          { header: 'Agent id', cell: (a) => <code>{a.id}</code> },
          {
            header: 'State',
            cell: (a) => (
              <Badge
                text={a.revokedAt ? 'revoked' : a.liveSecrets > 1 ? 'rotating' : 'active'}
                color={a.revokedAt ? 'darkgrey' : 'green'}
              />
            ),
          },
          { header: 'Created', cell: (a) => formatTime(a.createdAt) },
          {
            header: 'Actions',
            hideHeader: true,
            cell: (a) =>
              !a.revokedAt && (
                <Stack gap={1}>
                  <Button
                    size="sm"
                    variant="secondary"
                    aria-label={`Rotate secret of ${a.name}`}
                    disabled={busy}
                    onClick={() => setRotating(a)}
                  >
                    Rotate secret
                  </Button>
                  <Button
                    size="sm"
                    variant="destructive"
                    aria-label={`Revoke ${a.name}`}
                    disabled={busy}
                    onClick={() => setRevoking(a)}
                  >
                    Revoke
                  </Button>
                </Stack>
              ),
          },
        ]}
      />
      <LoadOlder list={agents} what="agents" />
      {secret && (
        <SecretModal
          title={`${secret.rotated ? 'New secret' : 'Secret'} of ${secret.minted.agent.name}`}
          onClose={() => setSecret(null)}
        >
          <InstallSnippet minted={secret.minted} />
        </SecretModal>
      )}
      <ConfirmOnItem
        item={rotating}
        title={(agent) => `Rotate the secret of ${agent.name}?`}
        body={() =>
          'A new secret is made and shown once. The current one keeps working for an hour: workers not given the new one by then stop reporting.'
        }
        confirmText="Rotate"
        onConfirm={(agent) =>
          guard(async () => {
            setSecret({ minted: await rotateAgent(agent.id, project), rotated: true });
            await agents.reload();
          })
        }
        onDismiss={() => setRotating(null)}
      />
      <ConfirmOnItem
        item={revoking}
        title={(agent) => `Revoke the agent ${agent.name}?`}
        body={(agent) =>
          `Batches signed as ${agent.id} are refused from now on: workers using it stop reporting until they get a new credential.`
        }
        confirmText="Revoke"
        onConfirm={(agent) =>
          guard(async () => {
            await revokeAgent(agent.id, project);
            await agents.reload();
          })
        }
        onDismiss={() => setRevoking(null)}
      />
    </div>
  );
}

/** The environment and code a worker fleet needs, for the engine picked, with the secret in it. */
function InstallSnippet({ minted }: { minted: MintedAgent }) {
  const [engine, setEngine] = useState<string>('celery');
  const env = agentEnv(minted.agentId, minted.secret, minted.project).replace('<engine>', engine);
  const text = `${env}\n\n${AGENT_SNIPPETS[engine]}`;
  return (
    <Stack direction="column" gap={1}>
      <Text element="p">Copy it now: it is not shown again. Give it to the workers of {minted.agent.name}:</Text>
      <RadioButtonGroup
        size="sm"
        options={ENGINES.map((e) => ({ label: e, value: e }))}
        value={engine}
        onChange={setEngine}
      />
      <pre data-testid="agent-snippet">{text}</pre>
      <div>
        <ClipboardButton icon="copy" variant="primary" getText={() => text}>
          Copy
        </ClipboardButton>
      </div>
    </Stack>
  );
}
