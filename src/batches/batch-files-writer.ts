import type { PoolClient } from 'pg';
import { HTTP_STATUS } from '../errors/app-error';
import type { FileWriter, FilesRepo } from '../files/files-repo';
import { FILE_ID_PREFIX } from '../files/file-types';
import type { ErrorType } from '../shared/error-types';
import { batchEndpointSpec, type BatchEndpointSpec } from './batch-endpoints';
import type { BatchFilesWriter, BatchRepo, ItemOutcome, LineError } from './batch-repo';
import type { BatchEnded } from './batch-terminal';
import { BATCH_ID_PREFIX } from './batch-types';

/** The spec of a served endpoint (a batch is only created for one). */
function spec(endpoint: string): BatchEndpointSpec {
  const s = batchEndpointSpec(endpoint);
  if (!s) throw new Error(`batch endpoint ${endpoint} is not served`);
  return s;
}

/** Items (and invalid lines) read per query while the files are written. */
const PAGE = 500;

/** The ids of a batch's output and error files: fixed by the batch id, so a retried finish rewrites the same two. */
export function resultFileIds(batchId: string): { output: string; error: string } {
  const hex = batchId.slice(BATCH_ID_PREFIX.length);
  return { output: `${FILE_ID_PREFIX}${hex}-output`, error: `${FILE_ID_PREFIX}${hex}-errors` };
}

/** One line of an output or error file, in OpenAI's batch output format. */
export interface BatchOutputLine {
  id: string;
  custom_id: string | null;
  response: { status_code: number; request_id: string; body: unknown } | null;
  error: { code: string; message: string; line?: number } | null;
}

/** Why lines that never ran did not: OpenAI's codes. */
const NOT_RUN: Record<string, { code: string; message: string }> = {
  expired: {
    code: 'batch_expired',
    message: 'This request could not be executed before the completion window expired.',
  },
  cancelled: { code: 'batch_cancelled', message: 'This request was not executed: the batch was cancelled.' },
};

/**
 * The line of one item: a completed request in the output file (its response body as the endpoint
 * returns it); a failed or rejected one in the error file with its HTTP status and error body; one
 * that never ran (or was cancelled running) in the error file with OpenAI's `batch_expired` or
 * `batch_cancelled`.
 */
export function outcomeLine(
  o: ItemOutcome,
  ended: Pick<BatchEnded, 'status' | 'endpoint'>,
): { file: 'output' | 'error'; line: BatchOutputLine } {
  const id = `batch_req_${o.requestId.replace(/^[a-z]+_/, '')}`;
  const base = { id, custom_id: o.customId };
  if (o.state === 'completed') {
    const head = {
      id: o.requestId,
      model: o.model ?? '',
      created: Math.floor((o.acceptedAt?.getTime() ?? 0) / 1000),
    };
    return {
      file: 'output',
      line: {
        ...base,
        response: { status_code: 200, request_id: o.requestId, body: spec(ended.endpoint).response(head, o) },
        error: null,
      },
    };
  }
  if ((o.state === 'failed' || o.state === 'rejected') && o.error) {
    const type = o.error.type as ErrorType;
    return {
      file: 'error',
      line: {
        ...base,
        response: {
          status_code: HTTP_STATUS[type] ?? 500,
          request_id: o.requestId,
          body: { error: { message: o.error.message, type: o.error.type, param: null, code: o.error.type } },
        },
        error: null,
      },
    };
  }
  const why = NOT_RUN[ended.status] ?? {
    code: 'not_run',
    message: `This request ended ${o.state} without a result.`,
  };
  return { file: 'error', line: { ...base, response: null, error: why } };
}

/** The line of an input line refused at create. */
export function lineErrorLine(batchId: string, e: LineError): BatchOutputLine {
  return {
    id: `batch_req_${batchId.slice(BATCH_ID_PREFIX.length)}_line${e.line + 1}`,
    custom_id: e.customId,
    response: null,
    error: { code: e.code, message: e.message, line: e.line + 1 },
  };
}

/**
 * Writes a batch's output and error files (JSONL, purpose `batch_output`) in the finishing
 * transaction, a page of items at a time: memory holds one page and one file chunk. A file with no
 * line is not created (its id stays null). Lines come in input order: items, then invalid lines.
 */
export class PostgresBatchFilesWriter implements BatchFilesWriter {
  constructor(
    private readonly batches: BatchRepo,
    private readonly files: FilesRepo,
  ) {}

  async write(
    c: PoolClient,
    ended: Omit<BatchEnded, 'outputFileId' | 'errorFileId'>,
  ): Promise<{ outputFileId: string | null; errorFileId: string | null }> {
    const ids = resultFileIds(ended.batchId);
    // A retried finish starts again from nothing (an earlier attempt rolled back, or this repairs).
    await this.files.deleteIn(c, [ids.output, ids.error]);
    const open: Partial<Record<'output' | 'error', { w: FileWriter; lines: number }>> = {};
    const put = async (which: 'output' | 'error', line: BatchOutputLine): Promise<void> => {
      let f = open[which];
      if (!f) {
        const w = await this.files.begin(c, {
          id: ids[which],
          tenantId: ended.tenantId,
          purpose: 'batch_output',
          filename: `${ended.batchId}_${which}.jsonl`,
        });
        f = open[which] = { w, lines: 0 };
      }
      await f.w.write(JSON.stringify(line) + '\n');
      f.lines++;
    };
    for (let after = -1; ;) {
      const page = await this.batches.outcomes(c, ended.batchId, after, PAGE);
      for (const o of page) {
        const { file, line } = outcomeLine(o, ended);
        await put(file, line);
      }
      if (page.length < PAGE) break;
      after = page.at(-1)!.idx;
    }
    for (let after = -1; ;) {
      const page = await this.batches.lineErrors(ended.batchId, after, PAGE, c);
      for (const e of page) await put('error', lineErrorLine(ended.batchId, e));
      if (page.length < PAGE) break;
      after = page.at(-1)!.line;
    }
    for (const which of ['output', 'error'] as const) {
      const f = open[which];
      if (!f) continue;
      const bytes = await f.w.end();
      await this.files.complete(c, ids[which], {
        purpose: 'batch_output',
        filename: `${ended.batchId}_${which}.jsonl`,
        bytes,
        lines: f.lines,
      });
    }
    return {
      outputFileId: open.output ? ids.output : null,
      errorFileId: open.error ? ids.error : null,
    };
  }
}
