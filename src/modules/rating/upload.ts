import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { Busboy } from '@fastify/busboy';
import type { FastifyInstance } from 'fastify';
import { invalid } from '../../errors.js';

/**
 * A CSV upload handed to the route as a stream, never buffered: `text/csv` (the body itself) or
 * `multipart/form-data` (the first file part, parsed by busboy as it arrives). The stream is a
 * private field so the idempotency fingerprint does not try to serialise it.
 */
export class CsvUpload {
  readonly #source: Readable;
  readonly #headers: IncomingHttpHeaders;

  constructor(source: Readable, headers: IncomingHttpHeaders) {
    this.#source = source;
    this.#headers = headers;
  }

  /** The CSV bytes: the body, or the first file of a multipart form. */
  csv(): Promise<Readable> {
    const type = String(this.#headers['content-type'] ?? '');
    if (!type.startsWith('multipart/form-data')) return Promise.resolve(this.#source);
    return new Promise((resolve, reject) => {
      const parser = Busboy({ headers: this.#headers as never, limits: { files: 1, fields: 20 } });
      let file: Readable | undefined;
      // A client that goes away mid-upload must end the file stream too: busboy does not, and the
      // import reads the file inside its transaction, which would wait for the rest for ever
      // (on the embedded database, holding its only connection).
      this.#source.once('error', (error) => {
        file?.destroy(error);
        reject(error);
      });
      parser.on('file', (_field: string, stream: Readable) => {
        file = stream;
        resolve(stream);
      });
      parser.on('error', reject);
      parser.on('finish', () =>
        reject(invalid('The multipart form has no file part; send the deck as a file field', 'file')),
      );
      this.#source.pipe(parser);
    });
  }
}

/**
 * Content types of the import route, registered in its own plugin scope only: everywhere else
 * multipart keeps the shared parser that turns form fields into a body object.
 */
export function acceptCsvUploads(app: FastifyInstance): void {
  app.removeContentTypeParser('multipart/form-data');
  app.addContentTypeParser(['text/csv', 'application/csv', 'multipart/form-data'], (request, payload, done) =>
    done(null, new CsvUpload(payload, request.headers)),
  );
}
