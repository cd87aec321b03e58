// Marks a test as exercising an engine capability. The capability test reads the test
// sources for these calls and fails when a driver declares something no test exercises.
export function covers(_engine: string, _capability: string): void {}
