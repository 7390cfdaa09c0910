/**
 * The real format operations, bound into the FormatOps object the checker takes (CLI and Lambda).
 */
import type { FormatOps } from './types';
import { compareArtifacts } from './compare/index';
import { verifySignature } from './signature';
import { checkManifestFile } from './sha256sums';

export const formatOps: FormatOps = {
  verifySignature,
  compareArtifacts,
  checkManifestEntry: checkManifestFile,
};
