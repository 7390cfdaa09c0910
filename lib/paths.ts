/** Repository paths the infrastructure code needs (handlers to bundle, buildspecs to inline). */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const HANDLERS_DIR = join(REPO_ROOT, 'lambda', 'handlers');
export const BUILDSPECS_DIR = join(REPO_ROOT, 'buildspecs');
export const LOCK_FILE = join(REPO_ROOT, 'package-lock.json');
