// axe-core run in a Playwright page: the accessibility rules a screen reader or keyboard user
// depends on (names of controls, headings, tables, contrast, landmarks).
import { createRequire } from "node:module";
import type { Page } from "playwright-core";

const AXE_SCRIPT = createRequire(import.meta.url).resolve("axe-core");

export interface AxeViolation {
  id: string;
  impact: "minor" | "moderate" | "serious" | "critical" | null;
  help: string;
  /** The elements at fault: a CSS path to each, its markup, what would fix it, and whether it
   * has the keyboard's focus or lies in what has it (a focused control is drawn in the theme's
   * focus style). */
  nodes: { target: string[]; html: string; summary: string; focused: boolean }[];
}

/** What the page side returns of axe.run (axe's own types need the DOM's, which the service's tests do not load). */
type AxeRun = (
  context: unknown,
  options: unknown,
) => Promise<{
  violations: {
    id: string;
    impact: AxeViolation["impact"];
    help: string;
    nodes: { target: unknown[]; html: string; failureSummary?: string }[];
  }[];
}>;

/** The violations of axe's WCAG 2.x A/AA and best-practice rules on the whole page as it is now. */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  if (!(await page.evaluate(() => "axe" in globalThis))) {
    await page.addScriptTag({ path: AXE_SCRIPT });
  }
  return page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: AxeRun } }).axe;
    const result = await axe.run({ include: ["html"] }, {});
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({
        target: n.target.map(String),
        html: n.html,
        summary: n.failureSummary ?? "",
        // One selector for an element of the page itself (more only inside frames or shadow roots).
        focused: n.target.length === 1 && document.querySelector(String(n.target[0]))?.closest(":focus") != null,
      })),
    }));
  });
}
