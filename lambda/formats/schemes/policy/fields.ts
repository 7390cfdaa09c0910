/**
 * Field rules the signature policies share (and the configuration's artifact names use too).
 *
 * The policy schemas are written with zod/mini (issue 14): `check-signature` validates its flags
 * with them and must not load classic zod (≈ 750 KiB, ≈ 35 ms at start) to do so. Classic zod
 * composes them unchanged into the configuration schema (both build on zod's core). zod/mini loads
 * no error-message locale of its own, hence `useEnglishMessages`.
 */
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

export const HEX64 = /^[0-9a-fA-F]{64}$/;
export const MINISIGN_KEY_ID = /^[0-9a-fA-F]{1,16}$/;
export const OPENPGP_FPR = /^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$/;

/** Placeholders allowed in asset names and artifact paths. */
export const PLACEHOLDER_HELP = '{version} (tag without a leading "v"), {tag}, {asset} (signature fields only)';

/** A release asset name: a bare file name, placeholders allowed. */
export const assetName = z.string().check(
  z.minLength(1),
  z.maxLength(255),
  z.refine((n) => !/[\\/]/.test(n) && n !== '.' && n !== '..', {
    message: `must be a bare file name (no "/"); placeholders: ${PLACEHOLDER_HELP}`,
  }),
);

/** The asset name rule with a description (for the JSON Schema). */
export const describedAssetName = (description: string) => assetName.check(z.describe(description));

export const certSha256List = () => z.array(z.string().check(z.regex(HEX64, 'must be a SHA-256 certificate fingerprint: 64 hex digits'))).check(z.minLength(1));

/** A non-empty string (key material, paths, subjects). */
export const nonEmpty = () => z.string().check(z.minLength(1));

/** `schema`, optional, with a description. */
export const optionalDescribed = <T extends z.core.SomeType>(schema: T, description: string) => z.optional(schema).check(z.describe(description));

/** Default messages in English wherever only zod/mini is loaded (classic zod sets the same). */
export function useEnglishMessages(): void {
  z.config(en());
}
useEnglishMessages();
