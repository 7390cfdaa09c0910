/**
 * The verdict in plain language, and the verdict each row shows.
 *
 * A row (artifact or target) shows the worst of its own verdict and of every run-level finding that
 * names it: a history change (PAST_ASSET_CHANGED) is raised at run level, after the artifact was
 * judged, so the row would otherwise say VERIFIED or MISMATCH under a TAMPERED page.
 */
import { compareVerdicts, type Finding, type Verdict } from '../findings';
import type { ArtifactReport, RunReport, TargetReport } from '../report';
import { allFindings } from '../report';

export const HEADLINE: Record<Verdict, string> = {
  VERIFIED: 'Verified: every file rebuilt identically from the tagged source and every signature checked out.',
  MISMATCH: 'Mismatch: a published file differs from what the tagged source builds.',
  TAMPERED: 'Tampered: something published is not what it should be — a bad signature, or a release that changed after it was first seen.',
  INCOMPLETE: 'Incomplete: the release could NOT be verified — something could not be checked. This is not a pass.',
};

export const WHAT_NOW: Record<Verdict, string> = {
  VERIFIED: 'Nothing to do.',
  MISMATCH: 'Do not ship or install the differing files until the difference is explained (see the differences and what each finding means below).',
  TAMPERED: 'Treat the release as compromised: do not install it, warn users, and find out who changed what (the findings below say what changed and where).',
  INCOMPLETE: 'Fix what stopped the check (each finding below says what to do) and run again. Until then nothing is known about this release.',
};

const worst = (vs: readonly Verdict[]): Verdict => vs.reduce<Verdict>((a, b) => (compareVerdicts(b, a) > 0 ? b : a), 'VERIFIED');

/** A finding's level as a verdict (NOTICE never changes one). */
const asVerdict = (f: Finding): Verdict | null => (f.level === 'NOTICE' ? null : f.level);

/** Run-level findings naming this target (and artifact, when given). */
export function runLevelFindingsFor(report: RunReport, target: string, asset?: string): Finding[] {
  return report.findings.filter((f) => f.target === target && (asset === undefined ? true : f.artifact === asset));
}

/** The verdict an artifact row shows, and the run-level findings that made it worse than its own. */
export function artifactRowVerdict(report: RunReport, t: TargetReport, a: ArtifactReport): { verdict: Verdict; raisedBy: Finding[] } {
  const raisedBy = runLevelFindingsFor(report, t.name, a.asset).filter((f) => {
    const v = asVerdict(f);
    return v !== null && compareVerdicts(v, a.verdict) > 0;
  });
  return { verdict: worst([a.verdict, ...raisedBy.map((f) => asVerdict(f)!)]), raisedBy };
}

/** The verdict a target shows (its own, raised by run-level findings naming it). */
export function targetRowVerdict(report: RunReport, t: TargetReport): Verdict {
  const raised = runLevelFindingsFor(report, t.name)
    .map(asVerdict)
    .filter((v): v is Verdict => v !== null);
  return worst([t.verdict, ...raised]);
}

/** One sentence of counts: what was checked and how it came out. */
export function countsSentence(report: RunReport): string {
  const artifacts = report.targets.flatMap((t) => t.artifacts.map((a) => artifactRowVerdict(report, t, a).verdict));
  const by = (v: Verdict) => artifacts.filter((x) => x === v).length;
  const problems = allFindings(report).filter((f) => f.level !== 'NOTICE').length;
  if (report.targets.length === 0) return `No target was checked${problems ? `; ${problems} problem${problems === 1 ? '' : 's'} found` : ''}.`;
  const parts = [`${artifacts.length} file${artifacts.length === 1 ? '' : 's'} in ${report.targets.length} target${report.targets.length === 1 ? '' : 's'}`];
  const detail = (['VERIFIED', 'MISMATCH', 'TAMPERED', 'INCOMPLETE'] as const)
    .filter((v) => by(v) > 0)
    .map(
      (v) => `${by(v)} ${v === 'VERIFIED' ? 'verified' : v === 'MISMATCH' ? 'differ from the rebuild' : v === 'TAMPERED' ? 'tampered' : 'not fully checked'}`,
    );
  return `${parts[0]}${detail.length ? `: ${detail.join(', ')}` : ''}. ${problems} problem${problems === 1 ? '' : 's'} found.`;
}
