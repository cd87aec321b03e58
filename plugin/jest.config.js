// force timezone to UTC to allow tests to work regardless of local timezone
// generally used by snapshots, but can affect specific tests
process.env.TZ = 'UTC';

const baseConfig = require('./.config/jest.config');
const swcTransform = baseConfig.transform['^.+\\.(t|j)sx?$'];

module.exports = {
  // Jest configuration provided by Grafana scaffolding
  ...baseConfig,
  transform: {
    ...baseConfig.transform,
    // d3-color 3.1.x (pulled in by @grafana/data) points `main` at an ES module `.mjs` file;
    // the managed config only transforms `.(t|j)sx?`, so give `.mjs` the same SWC transform.
    '^.+\\.mjs$': swcTransform,
  },
  // Journeys through @grafana/ui with user-event take seconds on a busy 2-core machine: the
  // timeouts (this one, and 30 s for those that wait on the pages' polling) bound a hang, not speed.
  testTimeout: 20_000,
};
