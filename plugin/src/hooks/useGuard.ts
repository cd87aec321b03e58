import { useState } from 'react';
import { toApiRequestError } from '../api/client';

/** Runs a write, tracking busy and turning a failure into a message to show. */
export function useGuard() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const guard = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(toApiRequestError(e).message);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, clearError: () => setError(null), guard };
}
