// A text filter kept in the URL: applied on Enter or when leaving the field (not on every
// keystroke, and not when unchanged), and showing what the URL says when it changes (Back).
import React, { useState } from 'react';
import { Input } from '@grafana/ui';

/** A text filter applied on Enter or when leaving the field, not on every keystroke. */
export function CommitInput(props: {
  id: string;
  value?: string;
  placeholder?: string;
  width: number;
  onCommit: (v?: string) => void;
}) {
  const [draft, setDraft] = useState(props.value ?? '');
  const [seen, setSeen] = useState(props.value);
  if (seen !== props.value) {
    // The URL changed under us (back button, cleared filters): show what it says.
    setSeen(props.value);
    setDraft(props.value ?? '');
  }
  const commit = () => {
    const v = draft.trim() === '' ? undefined : draft.trim();
    if (v !== props.value) {
      props.onCommit(v);
    }
  };
  return (
    <Input
      id={props.id}
      value={draft}
      placeholder={props.placeholder}
      width={props.width}
      onChange={(e) => setDraft(e.currentTarget.value)}
      onBlur={commit}
      onKeyDown={(e) => e.key === 'Enter' && commit()}
    />
  );
}
