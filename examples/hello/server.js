// A tiny web service for the quickstart: it answers with its greeting and the release it runs.
const http = require('node:http');

const greeting = process.env.GREETING || 'hello from noops';
http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ greeting, version: process.env.NOOPS_VERSION, tag: process.env.NOOPS_TAG }) + '\n');
}).listen(Number(process.env.PORT || 8080), () => {
  console.log(`listening on ${process.env.PORT}`);
});
process.on('SIGTERM', () => process.exit(0));
