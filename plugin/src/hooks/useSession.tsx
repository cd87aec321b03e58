// Who the user is in the current project and what each engine can do: loaded per project and
// shared, so every action button can decide whether to show itself.
import React, { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { useSearchParams } from 'react-router-dom';
import { getCapabilities, getMe } from '../api/service';
import type { Capabilities, Engine, Me, ProjectRole } from '../api/types';
import { useAsync, useInterval } from './useAsync';

const ROLE_ORDER: ProjectRole[] = ['viewer', 'operator', 'admin', 'owner'];

export function roleAtLeast(role: ProjectRole | null | undefined, needed: ProjectRole): boolean {
  return role != null && ROLE_ORDER.indexOf(role) >= ROLE_ORDER.indexOf(needed);
}

export interface Session {
  /** `?project=` of the URL; undefined means the service's default project. */
  project?: string;
  me?: Me;
  capabilities?: Capabilities;
  loading: boolean;
  /** True when the engine declares the capability, e.g. can('celery', 'task.retry'). */
  can: (engine: string, capability: string) => boolean;
  /** True when the user's project role is at least `role`. */
  allows: (role: ProjectRole) => boolean;
  /**
   * The engines a schedule can send with (the capabilities' `sendable`, else their `engines`
   * from a service that predates it); undefined while the capabilities are not known.
   */
  sendable?: Engine[];
  /**
   * Why the role or the capabilities could not be loaded. Without them no action button shows,
   * so the pages say so (SessionProblem) instead of leaving the user to wonder.
   */
  problem?: string;
  /**
   * A project the service does not know, remembered here or named by the link followed: the
   * default one is shown instead.
   */
  forgotten?: { slug: string; from: 'memory' | 'link'; instead?: string };
  dismissForgotten: () => void;
}

const SessionContext = createContext<Session>({
  loading: true,
  can: () => false,
  allows: () => false,
  dismissForgotten: () => undefined,
});

const LAST_PROJECT = 'z4j.lastProject';

/** How often a session that could not be read is asked for again. */
export const SESSION_RETRY_MS = 5000;

/** Remembers the project the user picked, for pages opened without `?project=` (e.g. from the nav). */
export function rememberProject(slug: string | undefined) {
  try {
    slug ? window.localStorage.setItem(LAST_PROJECT, slug) : window.localStorage.removeItem(LAST_PROJECT);
  } catch {
    /* storage disabled: the URL still carries the project */
  }
}

function lastProject(): string | undefined {
  try {
    return window.localStorage.getItem(LAST_PROJECT) ?? undefined;
  } catch {
    return undefined;
  }
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [params, setParams] = useSearchParams();
  const inUrl = params.get('project') ?? undefined;
  const remembered = lastProject();
  // The URL wins (a shared link shows what its sender saw); else the last project picked here.
  const project = inUrl ?? remembered;
  const me = useAsync(() => getMe(project), [project]);
  // The service checks the caller's role in the project asked for: the project picked here.
  const caps = useAsync(() => getCapabilities(project), [project]);
  const [forgotten, setForgotten] = useState<Session['forgotten']>();

  // A project taken from memory is written into the URL, so a link copied from here opens it for
  // whoever follows it too; replaced, not pushed, so Back does not land on the URL without it.
  useEffect(() => {
    if (!inUrl && remembered) {
      setParams((p) => withProject(p, remembered), { replace: true });
    }
  }, [inUrl, remembered, setParams]);

  // A project deleted since (or renamed), remembered here or named by an old link, would make every
  // page fail: the one last used (else the default) is shown instead, with a notice saying so, and
  // a remembered one is forgotten.
  const gone =
    project !== undefined && (me.error?.code === 'PROJECT_NOT_FOUND' || caps.error?.code === 'PROJECT_NOT_FOUND');
  useEffect(() => {
    if (gone) {
      if (project === remembered) {
        rememberProject(undefined);
      }
      // The notice outlives the URL change that follows: the service's answer is the outside event.
      const fromLink = project !== remembered;
      // eslint-disable-next-line react-hooks/set-state-in-effect
      setForgotten({ slug: project, from: fromLink ? 'link' : 'memory', instead: fromLink ? remembered : undefined });
      setParams((p) => withProject(p, undefined), { replace: true });
    }
  }, [gone, project, remembered, setParams]);
  // Asked again while either failed (the service was away): when it is back, so are the actions.
  const failed = Boolean(me.error ?? caps.error);
  useInterval(
    () => Promise.all([me.error && me.reload(), caps.error && caps.reload()]),
    failed ? SESSION_RETRY_MS : null
  );

  const session = useMemo<Session>(() => {
    const rows = caps.value?.capabilities ?? [];
    return {
      project,
      me: me.value,
      capabilities: caps.value,
      sendable: caps.value ? (caps.value.sendable ?? caps.value.engines) : undefined,
      loading: me.loading || caps.loading,
      can: (engine, capability) => Boolean(rows.find((r) => r.capability === capability)?.engines[engine]),
      allows: (role) => roleAtLeast(me.value?.role, role),
      problem: (me.error ?? caps.error)?.message,
      forgotten,
      dismissForgotten: () => setForgotten(undefined),
    };
  }, [project, me.value, me.loading, me.error, caps.value, caps.loading, caps.error, forgotten]);

  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}

export const useSession = () => useContext(SessionContext);

function withProject(params: URLSearchParams, project: string | undefined): URLSearchParams {
  const next = new URLSearchParams(params);
  project ? next.set('project', project) : next.delete('project');
  return next;
}
