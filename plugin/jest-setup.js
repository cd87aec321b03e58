// Jest setup provided by Grafana scaffolding
import './.config/jest-setup';
import { configure } from '@testing-library/react';

// findBy*/waitFor give up after 1 s by default: too short for lazy pages on a loaded CI machine.
configure({ asyncUtilTimeout: 5000 });
