// A confirmation before acting on one row of a list (removing a member, revoking a token): open
// while `item` is set; confirming closes it and acts on the item it was opened for.
import React, { type ReactNode } from 'react';
import { ConfirmModal } from '@grafana/ui';

interface Props<T> {
  item: T | null;
  title: (item: T) => string;
  body: (item: T) => ReactNode;
  confirmText: string;
  onConfirm: (item: T) => void;
  onDismiss: () => void;
}

export function ConfirmOnItem<T>({ item, title, body, confirmText, onConfirm, onDismiss }: Props<T>) {
  return (
    <ConfirmModal
      isOpen={item !== null}
      title={item === null ? '' : title(item)}
      body={item === null ? null : body(item)}
      confirmText={confirmText}
      onConfirm={() => {
        if (item === null) {
          return;
        }
        onDismiss();
        onConfirm(item);
      }}
      onDismiss={onDismiss}
    />
  );
}
