/**
 * Field rules the signature policies share (and the configuration's artifact names use too).
 */
import { z } from 'zod';

export const HEX64 = /^[0-9a-fA-F]{64}$/;
export const MINISIGN_KEY_ID = /^[0-9a-fA-F]{1,16}$/;
export const OPENPGP_FPR = /^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$/;

/** Placeholders allowed in asset names and artifact paths. */
export const PLACEHOLDER_HELP = '{version} (tag without a leading "v"), {tag}, {asset} (signature fields only)';

/** A release asset name: a bare file name, placeholders allowed. */
export const assetName = z
  .string()
  .min(1)
  .max(255)
  .refine((n) => !/[\\/]/.test(n) && n !== '.' && n !== '..', {
    message: `must be a bare file name (no "/"); placeholders: ${PLACEHOLDER_HELP}`,
  });

export const certSha256List = () => z.array(z.string().regex(HEX64, 'must be a SHA-256 certificate fingerprint: 64 hex digits')).min(1);
