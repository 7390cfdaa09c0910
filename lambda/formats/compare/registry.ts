/**
 * The comparer registry: the format comparers in detection order. Each comparer module exports its
 * own registration (method, the format's name for reports, `detect` on the published file's head,
 * `compare`) and keeps its heavy libraries behind a dynamic import inside `compare`, so that this
 * list is cheap to import (issue 14: start-up). Adding a comparer is one module with its
 * registration plus one line here; compare/index.ts derives detection, naming and dispatch from it.
 *
 * Container comparers (archives) get the dispatcher through `CompareContext.compareMember` instead
 * of importing it: the registry imports them, so they must not import the registry's user back.
 */
import type { ComparerRegistration } from './registration';
import { peComparer } from '../pe/compare';
import { machoComparer } from '../macho/compare';
import { msiComparer } from '../msi/compare';
import { archiveComparer } from '../archive/compare';

export type { ComparerRegistration };

/** Format comparers in detection order; the first whose detect() accepts the published head wins, else bytes. */
export const COMPARERS: readonly ComparerRegistration[] = [peComparer, machoComparer, msiComparer, archiveComparer];
