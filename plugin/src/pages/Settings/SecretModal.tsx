// A secret the service shows once (an API token, an agent's secret), in a dialog over the row or
// form that made it: it cannot be scrolled past or missed, and once closed it is gone for good.
import React from 'react';
import { Button, Modal } from '@grafana/ui';

export function SecretModal({
  title,
  onClose,
  children,
}: {
  title: string;
  onClose: () => void;
  children: React.ReactNode;
}) {
  // A stray click beside the dialog must not throw the secret away: it closes by Done, × or Escape.
  return (
    <Modal title={title} isOpen onDismiss={onClose} closeOnBackdropClick={false}>
      {children}
      <Modal.ButtonRow>
        <Button onClick={onClose}>Done</Button>
      </Modal.ButtonRow>
    </Modal>
  );
}
