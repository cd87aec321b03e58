// The frame of every page that works in a project: Grafana's page, with a notice at the top
// when the user's role or the engines' capabilities could not be loaded (every action button
// depends on them, so without the notice they would just be missing).
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
  const { problem } = useSession();
  return problem ? (
    <Alert severity="warning" title="Actions are unavailable">
      {problem}
    </Alert>
  ) : null;
}
