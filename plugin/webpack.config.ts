// Extends the managed webpack config (.config/webpack, do not edit it): nested plugins'
// images, such as the data source's logo, are not copied by the managed config.
import CopyWebpackPlugin from 'copy-webpack-plugin';
import path from 'path';
import type { Configuration } from 'webpack';
import grafanaConfig, { type Env } from './.config/webpack/webpack.config';

const config = async (env: Env): Promise<Configuration> => {
  const baseConfig = await grafanaConfig(env);
  return {
    ...baseConfig,
    cache: {
      type: 'filesystem',
      buildDependencies: {
        config: [
          path.resolve(process.cwd(), '.config', 'webpack', 'webpack.config.ts'),
          path.resolve(process.cwd(), 'webpack.config.ts'),
        ],
      },
    },
    plugins: [
      ...(baseConfig.plugins ?? []),
      new CopyWebpackPlugin({ patterns: [{ from: 'datasource/img', to: 'datasource/img' }] }),
    ],
  };
};

export default config;
