/**
 * What a comparer module exports to be registered (compare/registry.ts). A module of its own, with
 * no imports but types, so that the comparers can name it without importing the registry (which
 * imports them).
 */
import type { Comparer } from '../types';

/** A comparer plus what the dispatcher needs to talk about its format. */
export interface ComparerRegistration extends Comparer {
  /** the format as a report names it: "a PE file", "an archive (zip, tar, tar.gz)" */
  formatName: string;
}
