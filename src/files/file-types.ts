import { randomUUID } from 'node:crypto';

/** Purposes of a file: `batch` (uploaded input), `batch_output` (a batch's output or error file). */
export const FILE_PURPOSES = ['batch', 'batch_output'] as const;
export type FilePurpose = (typeof FILE_PURPOSES)[number];

/** Prefix of file ids (OpenAI's). */
export const FILE_ID_PREFIX = 'file-';

export const newFileId = (): string => `${FILE_ID_PREFIX}${randomUUID().replace(/-/g, '')}`;

/** A file as stored (its bytes are in `file_chunks`). */
export interface FileRecord {
  id: string;
  tenantId: string;
  purpose: FilePurpose;
  filename: string;
  bytes: number;
  /** Non-blank lines (JSONL). */
  lines: number;
  createdAt: Date;
}
