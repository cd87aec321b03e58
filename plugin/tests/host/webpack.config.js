// Bundles the browser test host (host.tsx) with the modules Grafana shares with plugins.
// `npm run build:test-host` in plugin/; the plugin itself is built by `npm run build`.
const path = require('path');

module.exports = {
  mode: 'development',
  devtool: false,
  entry: path.resolve(__dirname, 'host.tsx'),
  output: { path: path.resolve(__dirname, 'dist'), filename: 'host.js', publicPath: '/host/' },
  resolve: { extensions: ['.tsx', '.ts', '.mjs', '.js'] },
  module: {
    rules: [
      // @grafana/ui's ES modules import 'ol/…' without extensions.
      { test: /\.m?js$/, resolve: { fullySpecified: false } },
      {
        test: /\.[tj]sx?$/,
        exclude: /node_modules/,
        use: {
          loader: 'swc-loader',
          options: {
            jsc: {
              parser: { syntax: 'typescript', tsx: true },
              transform: { react: { runtime: 'automatic' } },
              target: 'es2020',
            },
          },
        },
      },
      { test: /\.css$/, use: ['style-loader', 'css-loader'] },
      { test: /\.(svg|png|woff2?|ttf|eot)$/, type: 'asset/resource' },
    ],
  },
  performance: { hints: false },
  stats: 'errors-warnings',
};
