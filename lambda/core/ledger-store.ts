/** Reading and writing the ledger through the Store port. */
import { VerifierError } from './errors';
import { LEDGER_KEY, parseLedger, type Ledger } from './ledger';
import type { Store } from './ports';

export async function loadLedger(store: Store): Promise<Ledger | null> {
  const text = await store.get(LEDGER_KEY);
  if (text === null) return null;
  try {
    return parseLedger(text);
  } catch (err) {
    // A damaged ledger must not turn into "no history": that would hide every past change.
    throw new VerifierError('LEDGER_CORRUPT', `the ledger at ${store.locate(LEDGER_KEY)} is unreadable: ${(err as Error).message}; restore a previous version`);
  }
}

export async function saveLedger(store: Store, ledger: Ledger): Promise<void> {
  await store.put(LEDGER_KEY, JSON.stringify(ledger, null, 2), { contentType: 'application/json' });
}
