// Which z4j project the page shows: the projects the user has a role in. The choice goes into
// the URL (so links carry it) and is remembered for pages opened from the navigation.
import React from 'react';
import { useSearchParams } from 'react-router-dom';
import { Combobox, Field } from '@grafana/ui';
import { listProjects } from '../../api/service';
import { useAsync } from '../../hooks/useAsync';
import { rememberProject, useSession } from '../../hooks/useSession';
import { LoadError } from './PageState';

export function ProjectPicker() {
  const { project, me } = useSession();
  const [params, setParams] = useSearchParams();
  const projects = useAsync(() => listProjects(), []);
  const options = (projects.value?.projects ?? []).map((p) => ({ value: p.slug, label: p.name, description: p.role }));
  const current = project ?? me?.project.slug ?? null;
  return (
    <>
      <Field label="Project">
        <Combobox
          id="filter-project"
          width={24}
          options={options}
          value={current}
          loading={projects.loading}
          onChange={(opt) => {
            const next = new URLSearchParams(params);
            next.set('project', String(opt.value));
            rememberProject(String(opt.value));
            setParams(next);
          }}
        />
      </Field>
      {/* Else the picker just offers nothing, as if the user had no project. */}
      {projects.error && <LoadError error={projects.error} what="projects" onRetry={projects.reload} />}
    </>
  );
}
