import React from 'react';
import { PluginPage } from '@grafana/runtime';
import { PagePlaceholder } from '../../components/PagePlaceholder/PagePlaceholder';

function QueuesPage() {
  return (
    <PluginPage>
      <PagePlaceholder>Every queue with its depth over time, and what you can do to it.</PagePlaceholder>
    </PluginPage>
  );
}

export default QueuesPage;
