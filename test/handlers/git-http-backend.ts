/**
 * A loopback git smart-HTTP server for tests: real `git http-backend` run as a CGI behind
 * node:http, serving the bare repositories under one directory — what GitLab's git HTTP endpoint
 * speaks (`GET …/info/refs?service=git-upload-pack`, `POST …/git-upload-pack`). It can demand HTTP
 * Basic credentials (as GitLab does for a private project: any user name, the token as password)
 * and records every request's headers, so a test can assert where a token went and where not.
 * Optionally redirects every request to another URL (to test that a redirect is not followed).
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GitHttpServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** every request seen: method, path and query, headers */
  requests: { method: string; url: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

export interface GitHttpServerOptions {
  /** directory holding bare repositories (`<root>/g/app.git`) */
  projectRoot: string;
  /** when set, requests without `Authorization: Basic base64(<any>:<password>)` get 401 */
  password?: string;
  /** answer every request with a 302 to this base (+ the request path) instead of serving it */
  redirectTo?: string;
}

export async function startGitHttpServer(options: GitHttpServerOptions): Promise<GitHttpServer> {
  const requests: GitHttpServer['requests'] = [];
  const server: Server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const url = new URL(req.url ?? '/', 'http://loopback');
    if (options.redirectTo) {
      res.writeHead(302, { location: `${options.redirectTo}${url.pathname}${url.search}` }).end();
      return;
    }
    if (options.password !== undefined) {
      const auth = req.headers.authorization ?? '';
      const decoded = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString('utf8') : '';
      if (decoded.slice(decoded.indexOf(':') + 1) !== options.password || !decoded.includes(':')) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="GitLab"' }).end('HTTP Basic: Access denied\n');
        return;
      }
    }
    const child = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: options.projectRoot,
        GIT_HTTP_EXPORT_ALL: '1',
        REQUEST_METHOD: req.method,
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        ...(req.headers['content-length'] ? { CONTENT_LENGTH: req.headers['content-length'] } : {}),
        ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] } : {}),
        ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
        REMOTE_ADDR: '127.0.0.1',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    req.pipe(child.stdin);
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.resume();
    child.on('close', () => {
      // CGI response: headers, a blank line, the body
      const all = Buffer.concat(out);
      const sep = all.indexOf('\r\n\r\n') >= 0 ? all.indexOf('\r\n\r\n') : all.indexOf('\n\n');
      const sepLen = all.indexOf('\r\n\r\n') >= 0 ? 4 : 2;
      if (sep < 0) {
        res.writeHead(500).end('bad CGI output');
        return;
      }
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of all.subarray(0, sep).toString('latin1').split(/\r?\n/)) {
        const i = line.indexOf(':');
        if (i < 0) continue;
        const name = line.slice(0, i).trim();
        const value = line.slice(i + 1).trim();
        if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
        else headers[name] = value;
      }
      res.writeHead(status, headers).end(all.subarray(sep + sepLen));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
