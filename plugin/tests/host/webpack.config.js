// Bundles the browser test host (host.tsx) with the modules Grafana shares with plugins.
// `npm run build:test-host` in plugin/; the plugin itself is built by `npm run build`.
//
// One build per Grafana runtime the plugin's single module.js must run on (runtimes.cjs):
// dist/host.js for Grafana 12, dist/grafana13/host.js with `--env grafana=13`.
const path = require('path');
const RUNTIMES = require('./runtimes.cjs');

module.exports = (env = {}) => {
  const runtime = RUNTIMES[env.grafana ?? '12'];
  if (!runtime) {
    throw new Error(`--env grafana=${env.grafana}: the test host knows Grafana ${Object.keys(RUNTIMES).join(' and ')}`);
  }
  return {
    mode: 'development',
    devtool: false,
    entry: path.resolve(__dirname, 'host.tsx'),
    // The server serves either build at /host/ (startTestHost's `grafana` option).
    output: { path: runtime.hostDist, filename: 'host.js', publicPath: '/host/' },
    resolve: { extensions: ['.tsx', '.ts', '.mjs', '.js'] },
    module: {
      rules: [
        // What our own files import by name (host.tsx, the plugin's PluginPageStub: react,
        // @grafana/*, react-router-dom) comes from the runtime's packages first. Only ours: a
        // package's own imports resolve from where it lies (@grafana/ui's nested
        // react-router-dom 5 must not become the host's 6).
        { exclude: /node_modules/, resolve: { modules: [...runtime.nodeModules, 'node_modules'] } },
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
};
