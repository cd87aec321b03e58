// Jest setup provided by Grafana scaffolding
import './.config/jest-setup';
import { configure } from '@testing-library/react';

// findBy*/waitFor give up after 1 s by default: too short for lazy pages on a loaded CI machine.
configure({ asyncUtilTimeout: 5000 });

// jsdom has no canvas; @grafana/ui measures text on one to size Combobox menus. Approximate
// widths are enough for layout in tests.
HTMLCanvasElement.prototype.getContext = function getContext() {
  return { measureText: (text) => ({ width: String(text).length * 7 }), font: '' };
};

// jsdom lacks structuredClone (dagre uses it); Node's own works on plain data.
if (typeof globalThis.structuredClone !== 'function') {
  const v8 = require('v8');
  globalThis.structuredClone = (value) => v8.deserialize(v8.serialize(value));
}

// Grafana renders <PluginPage> with header actions; the runtime's fallback drops them.
jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  PluginPage: jest.requireActual('./src/test/PluginPageStub').PluginPageStub,
}));

// jsdom has no IntersectionObserver; @grafana/ui's scroll indicators (Select menus) use it.
if (typeof globalThis.IntersectionObserver !== 'function') {
  globalThis.IntersectionObserver = class {
    observe() {}
    unobserve() {}
    disconnect() {}
    takeRecords() {
      return [];
    }
  };
}

// jsdom has no ResizeObserver; @grafana/ui's Drawer (its truncated title) uses one.
if (typeof globalThis.ResizeObserver !== 'function') {
  globalThis.ResizeObserver = class {
    observe() {}
    unobserve() {}
    disconnect() {}
  };
}
