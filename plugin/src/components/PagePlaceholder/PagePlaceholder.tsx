// Stand-in body for pages whose real content has not been built yet.
import React from 'react';
import { Stack, Text } from '@grafana/ui';

interface Props {
  /** What the page will show, in one sentence. */
  children: string;
}

export function PagePlaceholder({ children }: Props) {
  return (
    <Stack direction="column" gap={1}>
      <Text element="p">{children}</Text>
      <Text element="p" color="secondary">
        This page is not built yet.
      </Text>
    </Stack>
  );
}
