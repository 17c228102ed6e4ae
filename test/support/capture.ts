import { PassThrough } from 'node:stream';

/** A stream that keeps everything written to it, for asserting on log output. */
export function captureStream(): { stream: PassThrough; text: () => string; lines: () => string[] } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  const text = () => Buffer.concat(chunks).toString('utf8');
  return { stream, text, lines: () => text().split('\n').filter((l) => l !== '') };
}
