// What Grafana renders for <PluginPage>: the page title (or pageNav text), the header actions
// and the body. @grafana/runtime's own fallback drops the actions, so tests and the browser
// test host install this one with setPluginPage.
import React from 'react';
import type { PluginPageProps } from '@grafana/runtime';

export function PluginPageStub({ pageNav, actions, children }: PluginPageProps) {
  return (
    <div>
      <header
        style={{
          display: 'flex',
          justifyContent: 'space-between',
          alignItems: 'flex-start',
          gap: 16,
          marginBottom: 16,
        }}
      >
        <div>
          {pageNav?.text && <h1 style={{ margin: 0 }}>{pageNav.text}</h1>}
          {pageNav?.subTitle && <div>{pageNav.subTitle}</div>}
        </div>
        {actions && <div data-testid="page-actions">{actions}</div>}
      </header>
      <main>{children}</main>
    </div>
  );
}
