import React from 'react';
import type { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { Stack, Text, TextLink } from '@grafana/ui';
import { PLUGIN_CONFIG_URL } from '../../constants';
import type { TrendsOptions } from '../types';

export function ConfigEditor(_props: DataSourcePluginOptionsEditorProps<TrendsOptions>) {
  return (
    <Stack direction="column" gap={1}>
      <Text element="p">
        This data source reads trends from the z4j service through the z4j app, with the app&apos;s connection settings.
        Enable the app and set its connection first.
      </Text>
      <TextLink href={PLUGIN_CONFIG_URL} inline={false}>
        z4j app connection settings
      </TextLink>
    </Stack>
  );
}
