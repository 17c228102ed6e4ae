'use strict';
// The baseline: plain node:http answering 202 with an empty body after reading the request body,
// which is the least any ingest server must do. Prints its port on stdout.
const http = require('node:http');

const server = http.createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.statusCode = 202;
    res.end();
  });
});
server.keepAliveTimeout = 72_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
