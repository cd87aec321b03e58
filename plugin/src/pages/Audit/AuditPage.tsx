import React from 'react';
import { PluginPage } from '@grafana/runtime';
import { PagePlaceholder } from '../../components/PagePlaceholder/PagePlaceholder';

function AuditPage() {
  return (
    <PluginPage>
      <PagePlaceholder>Every action, schedule change and settings change, in a tamper-evident log.</PagePlaceholder>
    </PluginPage>
  );
}

export default AuditPage;
