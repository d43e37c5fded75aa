import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

/** A process's resident memory now and at its peak so far (VmRSS, VmHWM), in bytes, from /proc. */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const bytes = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) * 1024;
  return { rss: bytes('VmRSS'), peak: bytes('VmHWM') };
}

export const MiB = 1024 * 1024;

export interface RawExchange {
  /** The status the server answered with; undefined when it answered nothing. */
  status: number | undefined;
  /** The whole answer, headers and body. */
  answer: string;
  /** From the connection's start until the server closed it; undefined when the client gave up first. */
  closedAfterMs: number | undefined;
  /** Bytes the socket took after the head. */
  bodyBytesSent: number;
}

/** How a client sends its body, once the head is out; returns when it has nothing more to send. */
export type Feed = (socket: Socket, sent: (bytes: number) => void) => void;

/** Writes `bytes` at once, then nothing: the body held open (its declared length is more). */
export const holdBody =
  (bytes: number): Feed =>
  (socket, sent) => {
    socket.write(Buffer.alloc(bytes, 0x20), () => sent(bytes));
  };

/** These bytes, then nothing. */
export const send =
  (bytes: string): Feed =>
  (socket, sent) => {
    socket.write(bytes, () => sent(Buffer.byteLength(bytes)));
  };

/** One byte every `everyMs`. */
export const trickle =
  (everyMs: number): Feed =>
  (socket, sent) => {
    const timer = setInterval(() => socket.write(' ', () => sent(1)), everyMs);
    socket.once('close', () => clearInterval(timer));
  };

/** Chunks of 64 KiB of chunked encoding, as fast as the connection takes them, for ever. */
export const endlessChunks: Feed = (socket, sent) => {
  const chunk = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 0x20), Buffer.from('\r\n')]);
  const pump = () => {
    while (!socket.destroyed && socket.write(chunk)) sent(0x10000);
    if (!socket.destroyed) socket.once('drain', pump);
  };
  pump();
};

/**
 * One raw HTTP/1.1 request on its own connection: the head (request line and headers, no blank
 * line), then what `feed` sends; resolves once the server closed the connection, or after
 * `giveUpMs` (the client then closes it).
 */
export function rawRequest(port: number, head: string, feed: Feed, giveUpMs: number): Promise<RawExchange> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    let bodyBytesSent = 0;
    let closedAfterMs: number | undefined;
    const giveUp = setTimeout(() => socket.destroy(), giveUpMs);
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    socket.once('end', () => {
      closedAfterMs ??= performance.now() - started;
    });
    socket.once('close', () => {
      clearTimeout(giveUp);
      // A reset instead of an orderly close is the server closing too, unless the client gave up.
      if (performance.now() - started < giveUpMs) closedAfterMs ??= performance.now() - started;
      const status = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1];
      resolve({ status: status ? Number(status) : undefined, answer, closedAfterMs, bodyBytesSent });
    });
    socket.once('connect', () => {
      socket.write(`${head}\r\n\r\n`);
      feed(socket, (bytes) => {
        bodyBytesSent += bytes;
      });
    });
  });
}

/** A request head for `path` with the given headers. */
export function head(method: string, path: string, headers: Record<string, string>): string {
  return [
    `${method} ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ].join('\r\n');
}

/** Counts of each value. */
export function tally<T>(values: T[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[String(value)] = (counts[String(value)] ?? 0) + 1;
  return counts;
}
