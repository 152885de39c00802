// The static file server of noops's static-site stack. The build copies this file into a
// release as .noops/static-server.mjs; the release's `web` process runs it with Node.js in the
// release folder. No dependencies: it must run with whatever Node.js the host has (14 or newer).
//
// It serves GET and HEAD of files below the release folder, `index.html` for a folder, and
// never: files outside the folder (also through symlinks), dotfiles, or noops's own files
// (manifest.json, noops.yaml, Procfile), which may hold settings a visitor should not read.
import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';

const ROOT = await realpath(process.argv[2] ?? process.cwd());
const PORT = Number(process.env.PORT ?? 8080);
const HIDDEN_AT_ROOT = new Set(['manifest.json', 'noops.yaml', 'Procfile']);
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.htm': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8', '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.webp': 'image/webp', '.ico': 'image/x-icon', '.wasm': 'application/wasm',
  '.woff': 'font/woff', '.woff2': 'font/woff2', '.xml': 'application/xml', '.pdf': 'application/pdf', '.map': 'application/json',
};

/** The file a URL path names, or null when it must not be served. */
async function resolveFile(urlPath) {
  let path;
  try {
    path = decodeURIComponent(urlPath.split('?')[0]);
  } catch {
    return null;
  }
  const parts = path.split('/').filter((p) => p !== '');
  if (parts.some((p) => p.startsWith('.') || p.includes('\0') || p.includes('\\'))) return null;
  if (parts.length === 1 && HIDDEN_AT_ROOT.has(parts[0])) return null;
  let file = join(ROOT, ...parts);
  try {
    if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
    const real = await realpath(file);
    if (real !== ROOT && !real.startsWith(ROOT + sep)) return null;
    const st = await stat(real);
    return st.isFile() ? { path: real, size: st.size } : null;
  } catch {
    return null;
  }
}

const server = createServer(async (req, res) => {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  const file = await resolveFile(req.url ?? '/');
  if (!file) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    return;
  }
  res.writeHead(200, {
    'content-type': TYPES[extname(file.path).toLowerCase()] ?? 'application/octet-stream',
    'content-length': file.size,
    'x-content-type-options': 'nosniff',
  });
  if (req.method === 'HEAD') res.end();
  else createReadStream(file.path).on('error', () => res.destroy()).pipe(res);
});
server.listen(PORT, process.env.HOST ?? '0.0.0.0', () => process.stdout.write(`serving ${ROOT} on port ${PORT}\n`));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections?.(); // idle keep-alive connections would hold the close
  });
}
