import React from 'react';
import { PluginPage } from '@grafana/runtime';
import { PagePlaceholder } from '../../components/PagePlaceholder/PagePlaceholder';

function SchedulesPage() {
  return (
    <PluginPage>
      <PagePlaceholder>Periodic and one-off schedules, with their runs.</PagePlaceholder>
    </PluginPage>
  );
}

export default SchedulesPage;
