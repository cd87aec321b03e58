// The Grafana runtimes the test host is built for (webpack.config.js) and served on (server.mjs):
// where each build lands, and the node_modules its shared modules and @grafana/ui's icons come
// from, first to last.
//  - 12: the plugin's own @grafana/* 12.4 and React 18 (npm workspaces hoist them to the root);
//  - 13: @grafana/* 13.2.3 and React 19 from grafana13/ (its install.sh installs the lock file):
//    from Grafana 13.2 every plugin runs on React 19, built against it or not.
const path = require('path');

const PLUGIN = path.resolve(__dirname, '..', '..');

module.exports = {
  12: {
    hostDist: path.join(__dirname, 'dist'),
    nodeModules: [path.join(PLUGIN, 'node_modules'), path.join(PLUGIN, '..', 'node_modules')],
  },
  13: {
    hostDist: path.join(__dirname, 'dist', 'grafana13'),
    nodeModules: [path.join(__dirname, 'grafana13', 'node_modules')],
  },
};
