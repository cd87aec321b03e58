// The one render() for component tests: wraps the UI in everything a page gets inside
// Grafana (a router for now) and returns a user-event session to drive it like a user.
import React, { type ReactElement } from 'react';
import { MemoryRouter } from 'react-router-dom';
import { render as renderWithTestingLibrary } from '@testing-library/react';
import userEvent from '@testing-library/user-event';

export interface RenderOptions {
  /** Location inside the app, such as `/a/z4j-taskqueue-app/workers`. */
  route?: string;
}

export function render(ui: ReactElement, { route = '/' }: RenderOptions = {}) {
  const user = userEvent.setup();
  return { user, ...renderWithTestingLibrary(<MemoryRouter initialEntries={[route]}>{ui}</MemoryRouter>) };
}
