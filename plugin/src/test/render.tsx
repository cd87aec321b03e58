// The one render() for component tests: wraps the UI the way Grafana mounts an app (under
// /a/<plugin id>/, inside a router, with same-origin link clicks handled by the router, as
// Grafana does for every <a>) and returns a user-event session to drive it like a user.
import React, { useEffect, type ReactElement } from 'react';
import { MemoryRouter, Route, Routes, useLocation, useNavigate } from 'react-router-dom';
import { render as renderWithTestingLibrary } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { PLUGIN_BASE_URL } from '../constants';

export interface RenderOptions {
  /** Location inside the app, such as `/workers` (for /a/z4j-taskqueue-app/workers). */
  route?: string;
}

/** Where the router is now, for assertions: `location.current`. */
export const location = { current: '' };

function GrafanaShell({ children }: { children: React.ReactNode }) {
  const navigate = useNavigate();
  const here = useLocation();
  useEffect(() => {
    location.current = here.pathname + here.search;
  }, [here]);
  useEffect(() => {
    const onClick = (e: MouseEvent) => {
      const a = (e.target as HTMLElement).closest?.('a');
      const href = a?.getAttribute('href');
      if (a && href && !a.target && !/^[a-z][a-z0-9+.-]*:/i.test(href) && !href.startsWith('#')) {
        // As Grafana does: an href without a leading slash is taken from the root ("?tab=x" → "/?tab=x").
        e.preventDefault();
        navigate(href.startsWith('/') ? href : `/${href}`);
      }
    };
    document.addEventListener('click', onClick);
    return () => document.removeEventListener('click', onClick);
  }, [navigate]);
  return <>{children}</>;
}

export function render(ui: ReactElement, { route = '/' }: RenderOptions = {}) {
  const user = userEvent.setup();
  return {
    user,
    ...renderWithTestingLibrary(
      <MemoryRouter initialEntries={[`${PLUGIN_BASE_URL}${route}`]}>
        <GrafanaShell>
          <Routes>
            <Route path={`${PLUGIN_BASE_URL}/*`} element={ui} />
          </Routes>
        </GrafanaShell>
      </MemoryRouter>
    ),
  };
}
