/**
 * Full page reload. Grafana caches an app's settings in the browser, so after saving them
 * a reload is the supported way for every page (and this config page) to see the new values.
 */
export function reloadPage(): void {
  window.location.reload();
}
