// A plain, theme-aware table for the list pages: semantic <table> markup (screen readers and
// keyboard users get it for free), columns declared as data.
import React, { useLayoutEffect, useRef, useState } from 'react';
import { css, cx } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { styleMixins, useStyles2 } from '@grafana/ui';

export interface Column<T> {
  /** Said by screen readers for each cell of the column; shown unless hideHeader. */
  header: string;
  /** A column whose cells speak for themselves (a row's buttons): its header is left for screen readers only. */
  hideHeader?: boolean;
  cell: (row: T) => React.ReactNode;
  numeric?: boolean;
  /** Stays in view at the table's right edge when the table scrolls sideways (a row's actions). */
  sticky?: boolean;
  /** May wrap onto several lines (long free text), within a bounded width. */
  wrap?: boolean;
}

function cellClass<T>(c: Column<T>, styles: ReturnType<typeof getTableStyles>): string | undefined {
  return cx(c.numeric && styles.num, c.sticky && styles.sticky, c.wrap && styles.wrap) || undefined;
}

export function DataTable<T>({
  label,
  rows,
  columns,
  rowKey,
  emptyText,
}: {
  label: string;
  rows: T[];
  columns: Array<Column<T>>;
  rowKey: (row: T) => string;
  /** Said in the table when it has no rows (else the headers stand alone). */
  emptyText?: string;
}) {
  const styles = useStyles2(getTableStyles);
  return (
    <TableScroll label={label}>
      <table className={styles.table} aria-label={label}>
        <thead>
          <tr>
            {columns.map((c, i) => (
              <th key={i} className={cellClass(c, styles)}>
                {/* Grafana's global styles define sr-only, as @grafana/ui's own tables use it. */}
                {c.hideHeader ? <span className="sr-only">{c.header}</span> : c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 && emptyText && (
            <tr>
              <td colSpan={columns.length} className={styles.empty}>
                {emptyText}
              </td>
            </tr>
          )}
          {rows.map((r) => (
            <tr key={rowKey(r)}>
              {columns.map((c, i) => (
                <td key={i} className={cellClass(c, styles)}>
                  {c.cell(r)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}

/**
 * The box a table scrolls sideways in when it is wider than the page. Then it takes the focus, so
 * the arrow keys scroll it: a table without a link or a button in its rows (the audit log) could
 * otherwise not be read to its right edge without a mouse.
 */
export function TableScroll({ label, children }: { label: string; children: React.ReactNode }) {
  const styles = useStyles2(getTableStyles);
  const box = useRef<HTMLDivElement>(null);
  const overflows = useOverflowsSideways(box);
  return (
    <div
      ref={box}
      className={styles.scroll}
      {...(overflows ? { tabIndex: 0, role: 'region', 'aria-label': `${label}, scrolls sideways` } : {})}
    >
      {children}
    </div>
  );
}

function useOverflowsSideways(box: React.RefObject<HTMLElement | null>): boolean {
  const [overflows, setOverflows] = useState(false);
  useLayoutEffect(() => {
    const el = box.current;
    // jsdom has no layout (and no ResizeObserver): nothing overflows there.
    if (!el || typeof ResizeObserver === 'undefined') {
      return;
    }
    const measure = () => setOverflows(el.scrollWidth > el.clientWidth);
    const observer = new ResizeObserver(measure);
    // The box changes with the page, the table inside it with its rows.
    observer.observe(el);
    if (el.firstElementChild) {
      observer.observe(el.firstElementChild);
    }
    return () => observer.disconnect();
  }, [box]);
  return overflows;
}

// In the theme's body type, as Grafana's own tables are (InteractiveTable on its admin lists, the
// table panel): a list page reads like the Grafana pages around it.
export const getTableStyles = (theme: GrafanaTheme2) => ({
  empty: css({ color: theme.colors.text.secondary, textAlign: 'center' }),
  table: css({
    ...theme.typography.body,
    width: '100%',
    borderCollapse: 'collapse',
    'th, td': {
      padding: theme.spacing(0.75, 1),
      borderBottom: `1px solid ${theme.colors.border.weak}`,
      textAlign: 'left',
      verticalAlign: 'middle',
    },
    th: { color: theme.colors.text.secondary, fontWeight: theme.typography.fontWeightMedium, whiteSpace: 'nowrap' },
    td: { whiteSpace: 'nowrap' },
    'tbody tr:hover': { background: theme.colors.action.hover },
  }),
  scroll: css({ overflowX: 'auto', maxWidth: '100%', '&:focus-visible': styleMixins.getFocusStyles(theme) }),
  num: css({ textAlign: 'right !important' as 'right', fontVariantNumeric: 'tabular-nums', whiteSpace: 'nowrap' }),
  sticky: css({ position: 'sticky', right: 0, background: theme.colors.background.primary }),
  wrap: css({
    whiteSpace: 'normal !important' as 'normal',
    minWidth: '24ch',
    maxWidth: '60ch',
    overflowWrap: 'anywhere',
  }),
});
