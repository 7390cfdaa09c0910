/** Authenticode: the signature embedded in a PE or MSI file, pinned by certificate or by CA and subject. */
import { authenticodePolicy, type AuthenticodePolicy } from './policy/authenticode';
import { CLI_MAX_KEY_FILE, certFingerprints, reason, type PolicyIssue, type SignatureScheme } from './scheme';

async function checkKeys(policy: AuthenticodePolicy, path: string): Promise<PolicyIssue[]> {
  const out: PolicyIssue[] = [];
  const { parsePemCertificates } = await import('../authenticode/certs');
  for (const field of ['caCertificate', 'tsaCertificate'] as const) {
    const pem = policy[field];
    if (pem === undefined) continue;
    try {
      if (parsePemCertificates(pem).length === 0) throw new Error('no "-----BEGIN CERTIFICATE-----" block');
    } catch (err) {
      out.push({ path: `${path}.${field}`, message: `is not a PEM certificate: ${reason(err)}` });
    }
  }
  return out;
}

/** Every --tsa-cert file (PEM, one or more certificates each), as one PEM text. */
async function readTsaCertificates(paths: string[], readText: (path: string, max: number, what: string) => Promise<string>, usage: (m: string) => Error) {
  const texts: string[] = [];
  for (const p of paths) {
    const text = await readText(p, CLI_MAX_KEY_FILE, 'TSA certificate');
    if (!/-----BEGIN CERTIFICATE-----/.test(text)) throw usage(`--tsa-cert ${p} holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
    texts.push(text.trim());
  }
  return `${texts.join('\n')}\n`;
}

export const authenticodeScheme: SignatureScheme<AuthenticodePolicy> = {
  name: 'authenticode',
  policySchema: authenticodePolicy,
  usableForManifest: true,
  keyFields: [
    { field: 'caCertificate', required: false },
    { field: 'tsaCertificate', required: false },
  ],
  loadRules(policy) {
    const hasCa = policy.caCertificate !== undefined;
    const issues: PolicyIssue[] = [];
    if (!policy.certSha256 && !hasCa)
      issues.push({ path: 'certSha256', message: 'pin the signer: give certSha256 (certificate fingerprints) or caCertificate with subject' });
    if (hasCa && !policy.subject)
      issues.push({ path: 'subject', message: 'is required with caCertificate: any certificate from that CA could sign otherwise' });
    return issues;
  },
  checkKeys,
  companion: 'embedded',
  async verify(input) {
    // Loaded on demand: PE/MSI parsing and pkijs are only needed for Windows assets.
    const { verifyAuthenticode } = await import('../authenticode/verify');
    const tsa = input.policy.tsaCertificate;
    return verifyAuthenticode(input, { tsaTrustAnchors: tsa ? [tsa] : undefined });
  },
  cli: {
    help: `  --ca-cert FILE        authenticode: pinned issuing CA (PEM), with --subject
  --subject DN          authenticode: required signer subject when pinning by CA
  --tsa-cert FILE       authenticode: trusted timestamping CA / TSA certificate(s), PEM
                        (repeatable), for RFC 3161 tokens and legacy countersignatures,
                        besides Node's bundled root store
  --signatures WHICH    authenticode: "primary" (default: the first signature must verify) or
                        "any-pinned" (a nested signature by the pinned signer also counts, e.g.
                        the SHA-256 one of a SHA-1 + SHA-256 dual-signed file)`,
    flags: {
      'cert-sha256': { type: 'string', multiple: true },
      'ca-cert': { type: 'string' },
      subject: { type: 'string' },
      'tsa-cert': { type: 'string', multiple: true },
      signatures: { type: 'string' },
    },
    signatureSuffixes: [],
    async policy({ values, readText, usage }) {
      if (!values['cert-sha256'] && !values['ca-cert']) throw usage('--cert-sha256 (or --ca-cert with --subject) is required for --scheme authenticode');
      if (values['ca-cert'] && !values.subject) throw usage('--ca-cert needs --subject');
      const caCert = values['ca-cert'] as string | undefined;
      const tsaCerts = values['tsa-cert'] as string[] | undefined;
      const certSha256 = certFingerprints(values);
      return {
        raw: {
          scheme: 'authenticode',
          ...(certSha256 ? { certSha256 } : {}),
          ...(caCert ? { caCertificate: await readText(caCert, CLI_MAX_KEY_FILE, 'CA certificate'), subject: values.subject } : {}),
          ...(tsaCerts ? { tsaCertificate: await readTsaCertificates(tsaCerts, readText, usage) } : {}),
          ...(values.signatures !== undefined ? { signatures: values.signatures } : {}),
        },
      };
    },
  },
};
