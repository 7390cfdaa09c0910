import { z } from 'zod';
import { ConfigSchema } from './schema';

/** JSON Schema (draft 2020-12) of the configuration file as a user writes it (defaults optional). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...schema,
    $id: 'https://release-verifier.invalid/schema/release-verifier.schema.json',
    title: 'release-verifier configuration',
    description: 'One file describes the GitLab project under watch, its release targets and how each asset is signed.',
  };
}
