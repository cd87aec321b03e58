// The frame of every page that works in a project: Grafana's page, with a notice at the top
// when the user's role or the engines' capabilities could not be loaded, or the project may not
// act (every action button depends on them, so without the notice they would just be missing).
import React from 'react';
import { PluginPage, type PluginPageProps } from '@grafana/runtime';
import { Alert } from '@grafana/ui';
import { useSession } from '../../hooks/useSession';

export function AppPage({ children, ...props }: PluginPageProps) {
  return (
    <PluginPage {...props}>
      <SessionProblem />
      {children}
    </PluginPage>
  );
}

export function SessionProblem() {
  const { problem, capabilities, allows } = useSession();
  if (problem) {
    return (
      <Alert severity="warning" title="Actions are unavailable">
        {problem}
      </Alert>
    );
  }
  // Said to those who would otherwise look for the buttons; a Viewer has none anyway.
  return capabilities?.brokersNotInProject && allows('operator') ? (
    <Alert severity="info" title="No actions in this project">
      The brokers z4j reaches belong to another project, so tasks here can be explored but not retried, cancelled or
      purged. An operator of z4j can add this project to Z4J_BROKER_PROJECTS if its workers run on those brokers.
    </Alert>
  ) : null;
}
