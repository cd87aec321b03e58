// The confirm button is drawn in the colour asked for, on the Grafana the tests run with (12.4,
// whose ConfirmModal draws from confirmButtonVariant alone): not red for a Retry.
import React from 'react';
import { render, screen } from '@testing-library/react';
import { ConfirmModal, type ButtonVariant } from '@grafana/ui';
import { confirmVariantOf } from './confirmVariant';

function confirmButtonBackground(variant?: ButtonVariant) {
  const { unmount } = render(
    <ConfirmModal
      isOpen
      title="t"
      body="b"
      confirmText="Go"
      {...(variant ? confirmVariantOf(variant) : {})}
      onConfirm={() => undefined}
      onDismiss={() => undefined}
    />
  );
  const button = screen.getByRole('button', { name: 'Go' });
  button.blur(); // its colour at rest, not its focus shade
  const background = getComputedStyle(button).backgroundColor;
  unmount();
  return background;
}

test('a confirm asked for as primary is drawn primary, not in the destructive red', () => {
  const destructive = confirmButtonBackground('destructive');
  const primary = confirmButtonBackground('primary');
  const unsaid = confirmButtonBackground();
  expect(destructive).not.toBe('');
  expect(primary).not.toBe(destructive);
  expect(unsaid).toBe(destructive); // ConfirmModal's own default: what a delete keeps
});
