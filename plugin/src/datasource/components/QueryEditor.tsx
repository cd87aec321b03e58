import React from 'react';
import type { QueryEditorProps } from '@grafana/data';
import { Text } from '@grafana/ui';
import type { DataSource } from '../DataSource';
import type { TrendQuery, TrendsOptions } from '../types';

export function QueryEditor(_props: QueryEditorProps<DataSource, TrendQuery, TrendsOptions>) {
  return <Text color="secondary">Trend queries are not available yet.</Text>;
}
