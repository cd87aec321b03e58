// Where a list page shows what its row actions did: above the table, not inside a row's cell
// (an alert there widened the whole table and pushed the other rows' buttons off-screen).
// Each outcome stays owned by the button that made it (it keeps following its command), and is
// drawn on the shelf through a portal.
import React, { createContext, useContext, useState, type ReactNode } from 'react';
import { createPortal } from 'react-dom';

const Shelf = createContext<HTMLElement | null>(null);

export function OutcomeShelf({ children }: { children: ReactNode }) {
  const [shelf, setShelf] = useState<HTMLDivElement | null>(null);
  return (
    <Shelf.Provider value={shelf}>
      <div ref={setShelf} aria-live="polite" data-testid="action-outcomes" />
      {children}
    </Shelf.Provider>
  );
}

/** Its children on the page's shelf, or where they are when the page has none. */
export function OnShelf({ children }: { children: ReactNode }) {
  const shelf = useContext(Shelf);
  return shelf ? createPortal(children, shelf) : <>{children}</>;
}
