// A TCP proxy in front of Redis that counts what the client sends: each burst of bytes the client
// writes and then waits on is one network round trip. Prints the counts on SIGTERM... or on request.
import { createConnection, createServer } from 'node:net';

let writes = 0;
let bytes = 0;
createServer((client) => {
  const upstream = createConnection(Number(process.env.REDIS_PORT), '127.0.0.1');
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  client.on('data', (chunk) => {
    writes += 1;
    bytes += chunk.length;
    upstream.write(chunk);
  });
  upstream.on('data', (chunk) => client.write(chunk));
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
}).listen(Number(process.env.PORT), '127.0.0.1');

// Control: the bench asks for the counts on stdin.
process.stdin.on('data', () => process.stdout.write(`${JSON.stringify({ writes, bytes })}\n`));
