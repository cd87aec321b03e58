import React from 'react';
import { PluginPage } from '@grafana/runtime';
import { Stack, TextLink } from '@grafana/ui';
import { PagePlaceholder } from '../../components/PagePlaceholder/PagePlaceholder';
import { PLUGIN_CONFIG_URL } from '../../constants';

function SettingsPage() {
  return (
    <PluginPage>
      <Stack direction="column" gap={2}>
        <PagePlaceholder>
          Project settings: members and their roles, agents, notification channels and rules.
        </PagePlaceholder>
        <TextLink href={PLUGIN_CONFIG_URL} inline={false}>
          Connection to the z4j service
        </TextLink>
      </Stack>
    </PluginPage>
  );
}

export default SettingsPage;
