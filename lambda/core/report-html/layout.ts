/**
 * The page shell shared by the run report and the history page: one inline stylesheet, no
 * external assets, no scripts, and a Content-Security-Policy that allows nothing but that
 * stylesheet (by its hash, so even an injected <style> or style attribute would not apply).
 *
 * Layout rules (a phone must read it without horizontal scrolling): no fixed widths, long tokens
 * (digests, URLs, names) break anywhere, tables turn into stacked cards under 640px, pre blocks wrap.
 */
import { createHash } from 'node:crypto';
import { escapeHtml } from './escape';

export const CSS = `
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:16px;color:#1f2328;background:#fff;max-width:1100px;margin-inline:auto;overflow-wrap:anywhere}
h1{font-size:1.5em;margin:.2em 0 .4em}h2{font-size:1.2em;margin:1.4em 0 .5em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}h3{font-size:1.05em;margin:1em 0 .3em}
a{color:#0969da}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
code{overflow-wrap:anywhere}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:8px;margin:.4em 0;max-height:32em;overflow-y:auto}
.v{display:inline-block;white-space:nowrap;overflow-wrap:normal;color:#fff;padding:1px 8px;border-radius:4px;font-weight:700;font-size:.9em;letter-spacing:.02em}
.v-VERIFIED{background:#1a7f37}.v-INCOMPLETE{background:#9a6700}.v-MISMATCH{background:#cf222e}.v-TAMPERED{background:#8250df}.v-NOTICE{background:#57606a}
.verdict{border-left:6px solid #57606a;padding:10px 14px;background:#f6f8fa;border-radius:6px}
.verdict-VERIFIED{border-color:#1a7f37;background:#dafbe1}.verdict-INCOMPLETE{border-color:#9a6700;background:#fff8c5}.verdict-MISMATCH{border-color:#cf222e;background:#ffebe9}.verdict-TAMPERED{border-color:#8250df;background:#fbefff}
.verdict p{margin:.3em 0}.headline{font-size:1.15em;font-weight:700}
.meta{color:#57606a;margin:.3em 0}
.links{display:flex;flex-wrap:wrap;gap:4px 14px;margin:.4em 0;padding:0;list-style:none}
table{border-collapse:collapse;width:100%;margin:.4em 0}
th,td{border:1px solid #d0d7de;padding:5px 8px;vertical-align:top;text-align:left}
th{background:#f6f8fa}
table.runs td[data-label="time"]{white-space:nowrap}
.finding{border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;margin:.6em 0}
.finding-TAMPERED{border-left:6px solid #8250df}.finding-MISMATCH{border-left:6px solid #cf222e}.finding-INCOMPLETE{border-left:6px solid #9a6700}.finding-NOTICE{border-left:6px solid #8c959f}
.finding p{margin:.3em 0}.label{font-weight:600}
details{margin:.3em 0}summary{cursor:pointer;color:#0969da}
dl.ev{display:grid;grid-template-columns:minmax(6em,max-content) 1fr;gap:2px 10px;margin:.4em 0}dl.ev dt{font-weight:600;color:#57606a}dl.ev dd{margin:0;min-width:0}
.digests{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:2px 10px;align-items:baseline;margin:.3em 0}
.digests .d{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
.digests .g{display:inline-block;margin-right:.5ch}
mark{background:#ffd8b5;color:inherit;font-weight:700;border-radius:2px}
.same{color:#1a7f37}.differs{color:#cf222e;font-weight:600}
.diff .add{background:#dafbe1;display:block}.diff .del{background:#ffebe9;display:block}.diff .hunk{color:#8250df;display:block}.diff .ctx{display:block}
.note{color:#57606a;font-size:.92em}
.timeline{margin:.3em 0 .3em 1.2em;padding:0}.timeline li{margin:.2em 0}
@media (max-width:640px){
 body{padding:10px;font-size:15px}
 table.cards,table.cards tbody,table.cards tr,table.cards td{display:block;width:100%}
 table.cards thead{display:none}
 table.cards tr{border:1px solid #d0d7de;border-radius:6px;margin:.5em 0;padding:4px 0}
 table.cards td{border:0;padding:3px 10px}
 table.cards td[data-label]::before{content:attr(data-label) ": ";font:600 14px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#57606a}
 .digests{grid-template-columns:1fr}
 dl.ev{grid-template-columns:1fr}
}
`;

/** sha256 of the stylesheet as CSP wants it */
const CSS_HASH = `'sha256-${createHash('sha256').update(CSS).digest('base64')}'`;

/** The policy: nothing loads, nothing runs, no forms, no base; only our stylesheet applies. */
export const CSP = `default-src 'none'; style-src ${CSS_HASH}; img-src 'none'; base-uri 'none'; form-action 'none'`;

/** A complete page. `title` is plain text (escaped here); `body` is HTML built by the callers. */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style></head>
<body>
${body}
</body></html>
`;
}

/** A verdict badge. */
export function badge(v: string): string {
  const known = ['VERIFIED', 'INCOMPLETE', 'MISMATCH', 'TAMPERED', 'NOTICE'].includes(v) ? v : 'NOTICE';
  return `<span class="v v-${known}">${escapeHtml(v)}</span>`;
}
