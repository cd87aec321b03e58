import React from 'react';
import { PluginPage } from '@grafana/runtime';
import { PagePlaceholder } from '../../components/PagePlaceholder/PagePlaceholder';

function WorkersPage() {
  return (
    <PluginPage>
      <PagePlaceholder>Every worker of every engine: online or not, what it runs and how busy it is.</PagePlaceholder>
    </PluginPage>
  );
}

export default WorkersPage;
