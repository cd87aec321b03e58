// The button under a list the service pages by key (usePagedList, or the explorer's own), and
// why the last page could not be read.
import React from 'react';
import { Alert, Button, Stack } from '@grafana/ui';
import type { PagedList } from '../../hooks/usePagedList';

/** What the button needs of a paged list. */
export type OlderPages = Pick<PagedList<unknown>, 'hasMore' | 'loadMore' | 'loading' | 'loadingMore' | 'moreError'>;

export function LoadOlder({ list, what }: { list: OlderPages; what: string }) {
  return (
    <>
      {list.moreError && (
        <Alert severity="error" title={`Could not load older ${what}`}>
          {list.moreError.message}
        </Alert>
      )}
      {list.hasMore && (
        <Stack justifyContent="center">
          <Button
            variant="secondary"
            onClick={list.loadMore}
            disabled={list.loading || list.loadingMore}
            icon={list.loadingMore ? 'spinner' : 'angle-down'}
          >
            {list.loadingMore ? 'Loading…' : `Load older ${what}`}
          </Button>
        </Stack>
      )}
    </>
  );
}
