/**
 * Which isolation a local build gets: the pinned image under Docker; else the bubblewrap sandbox;
 * else — only when the user asked for it with `--unsafe-host-build` — a bare host process. Without
 * any of these the build is refused (BUILD_NOT_SANDBOXED): a build on the host runs as the
 * verifier's user, can read the token from the verifier's and its parents' /proc/<pid>/environ,
 * and can rewrite the verifier's own files (downloads, records), so its verdict could be forged.
 */
import { VerifierError } from '../../core/errors';
import { bubblewrapUsable } from './bwrap';

export type Isolation = 'docker' | 'bubblewrap' | 'host';

export class BuildNotSandboxedError extends VerifierError {
  constructor(message: string) {
    super('BUILD_NOT_SANDBOXED', message);
  }
}

export interface IsolationChoice {
  /** run inside the pinned image with `docker run`: 'auto' uses Docker when an engine answers */
  docker: 'auto' | 'always' | 'never';
  dockerAvailable: () => boolean;
  /** the bwrap executable. @default 'bwrap' */
  bwrap?: string;
  /** allow a bare host process when neither Docker nor bubblewrap can be used */
  unsafeHostBuild?: boolean;
}

/** Picks the isolation, or throws BuildNotSandboxedError when there is none and host builds are not allowed. */
export function chooseIsolation(choice: IsolationChoice): Isolation {
  if (choice.docker === 'always') return 'docker';
  if (choice.docker === 'auto' && choice.dockerAvailable()) return 'docker';
  if (bubblewrapUsable(choice.bwrap)) return 'bubblewrap';
  if (choice.unsafeHostBuild) return 'host';
  throw new BuildNotSandboxedError(
    `no sandbox for the build: ${choice.docker === 'never' ? 'Docker is disabled (--docker never)' : 'no Docker engine answers'} and bubblewrap (bwrap) is missing or cannot create namespaces — install Docker or bubblewrap, or pass --unsafe-host-build to build on the host anyway (the build could then read the token and alter the verifier's files)`,
  );
}
