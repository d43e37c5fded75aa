// The "provision this customer" service of the benchmark: answers 200 at once.
import { createServer } from 'node:http';

createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200).end());
}).listen(Number(process.env.PORT), '127.0.0.1');
