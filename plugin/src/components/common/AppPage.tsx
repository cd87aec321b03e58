// The frame of every page that works in a project: Grafana's page, with the project it shows
// (a picker, or its name where the page belongs to one project, like a task's), and a notice at
// the top when the user's role or the engines' capabilities could not be loaded, or the project
// may not act (every action button depends on them, so without the notice they would just be missing).
import React from 'react';
import { PluginPage, type PluginPageProps } from '@grafana/runtime';
import { Alert, Text } from '@grafana/ui';
import { useSession } from '../../hooks/useSession';
import { ProjectPicker } from './ProjectPicker';

interface Props extends PluginPageProps {
  /** "pick" offers the other projects; "show" only names it (the page's content is that project's). */
  project?: 'pick' | 'show';
}

export function AppPage({ children, project = 'pick', ...props }: Props) {
  return (
    <PluginPage {...props}>
      {project === 'pick' ? <ProjectPicker /> : <ProjectName />}
      <ForgottenProject />
      <SessionProblem />
      {children}
    </PluginPage>
  );
}

function ProjectName() {
  const { project, me } = useSession();
  return (
    <Text color="secondary" element="p">
      Project: {me?.project.name ?? project ?? 'default'}
    </Text>
  );
}

function ForgottenProject() {
  const { forgotten, dismissForgotten } = useSession();
  if (!forgotten) {
    return null;
  }
  const title = forgotten.from === 'link' ? 'The project in this link is gone' : 'The project you last used is gone';
  return (
    <Alert severity="info" title={title} onRemove={dismissForgotten}>
      z4j does not know project &quot;{forgotten.slug}&quot; (deleted, or renamed): project{' '}
      {forgotten.instead ? <>&quot;{forgotten.instead}&quot;, the one you last used,</> : 'default'} is shown instead.
      Pick another one above.
    </Alert>
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
