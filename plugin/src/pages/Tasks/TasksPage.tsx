import React from 'react';
import { PluginPage } from '@grafana/runtime';
import { PagePlaceholder } from '../../components/PagePlaceholder/PagePlaceholder';

function TasksPage() {
  return (
    <PluginPage>
      <PagePlaceholder>
        Every task seen on your queues, searchable by engine, state, name, queue, worker and time.
      </PagePlaceholder>
    </PluginPage>
  );
}

export default TasksPage;
