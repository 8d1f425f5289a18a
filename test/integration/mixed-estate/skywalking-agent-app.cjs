// A tiny HTTP service instrumented with the SkyWalking Node agent (skywalking-backend-js), reporting
// straight to an OAP over gRPC. CommonJS, and the agent starts before `http` is required, as the
// agent's README asks.
//
// env: SERVICE_NAME, OAP (host:port of the OAP gRPC endpoint),
//      DOWNSTREAM (optional URL to POST CALL_BODY to for every request), CALL_BODY (JSON text)
// Prints "listening <port>" on stdout; on SIGTERM flushes its segments and exits.
'use strict';
const agent = require('skywalking-backend-js').default;

agent.start({
  serviceName: process.env.SERVICE_NAME,
  serviceInstance: `${process.env.SERVICE_NAME}-1`,
  collectorAddress: process.env.OAP,
});

const http = require('http');
const downstream = process.env.DOWNSTREAM;
const callBody = process.env.CALL_BODY || '[]';

const server = http.createServer((req, res) => {
  req.resume();
  if (!downstream) {
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
    return;
  }
  const call = http.request(downstream, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(callBody) } }, (up) => {
    up.resume();
    up.on('end', () => res.writeHead(up.statusCode >= 400 ? 502 : 200).end('done'));
  });
  call.on('error', () => res.writeHead(502).end('downstream failed'));
  call.end(callBody);
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});

process.on('SIGTERM', async () => {
  server.close();
  await Promise.resolve(agent.flush()).catch(() => {});
  process.exit(0);
});
