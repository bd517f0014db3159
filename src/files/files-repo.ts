import type { Pool, PoolClient } from 'pg';
import type { AtRestSealer } from '../codec/at-rest-sealer';
import type { SealedPayload } from '../codec/payload-sealer';
import type { FilePurpose, FileRecord } from './file-types';

interface FileRow {
  id: string;
  tenant_id: string;
  purpose: FilePurpose;
  filename: string;
  bytes: string;
  lines: number;
  created_at: Date;
}

const toRecord = (r: FileRow): FileRecord => ({
  id: r.id,
  tenantId: r.tenant_id,
  purpose: r.purpose,
  filename: r.filename,
  bytes: Number(r.bytes),
  lines: r.lines,
  createdAt: r.created_at,
});

/** Bytes of one stored chunk: what a writer holds before it writes, and a reader per query. */
export const FILE_CHUNK_BYTES = 262_144;

/**
 * Writes one file's bytes, a chunk at a time, inside the caller's transaction (the file is visible
 * only once it commits). Holds at most {@link FILE_CHUNK_BYTES} before writing them.
 */
export class FileWriter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private seq = 0;
  private total = 0;

  constructor(
    private readonly c: PoolClient,
    private readonly sealer: AtRestSealer,
    readonly id: string,
    private readonly chunkBytes = FILE_CHUNK_BYTES,
  ) {}

  /** Bytes written so far (flushed or pending). */
  get bytes(): number {
    return this.total;
  }

  async write(data: Buffer | string): Promise<void> {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    this.pending.push(buf);
    this.pendingBytes += buf.length;
    this.total += buf.length;
    if (this.pendingBytes >= this.chunkBytes) await this.flush();
  }

  /** Writes what is pending; returns the file's size. */
  async end(): Promise<number> {
    await this.flush();
    return this.total;
  }

  private async flush(): Promise<void> {
    if (!this.pendingBytes) return;
    const data = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    const sealed = await this.sealer.sealOrSkip(data.toString('base64'));
    await this.c.query(`INSERT INTO file_chunks (file_id, seq, data, data_sealed) VALUES ($1, $2, $3, $4)`, [
      this.id,
      this.seq++,
      sealed ? null : data,
      sealed ? JSON.stringify(sealed) : null,
    ]);
  }
}

/** Files and their chunks in PostgreSQL; the chunks are sealed at rest like prompts (store `files`). */
export class FilesRepo {
  constructor(
    private readonly pool: Pool,
    private readonly sealer: AtRestSealer,
  ) {}

  /** Adds a file's row in `c`'s transaction; its bytes follow through the returned writer. */
  async begin(
    c: PoolClient,
    f: { id: string; tenantId: string; purpose: FilePurpose; filename: string },
  ): Promise<FileWriter> {
    await c.query(
      `INSERT INTO files (id, tenant_id, purpose, filename, bytes, lines) VALUES ($1, $2, $3, $4, 0, 0)`,
      [f.id, f.tenantId, f.purpose, f.filename],
    );
    return new FileWriter(c, this.sealer, f.id);
  }

  /** Sets a file's name, purpose, size and lines once its bytes are in (same transaction). */
  async complete(
    c: PoolClient,
    id: string,
    f: { purpose: FilePurpose; filename: string; bytes: number; lines: number },
  ): Promise<void> {
    await c.query(`UPDATE files SET purpose = $2, filename = $3, bytes = $4, lines = $5 WHERE id = $1`, [
      id,
      f.purpose,
      f.filename,
      f.bytes,
      f.lines,
    ]);
  }

  /** A tenant's file (any tenant's without `tenantId`). */
  async get(
    id: string,
    tenantId?: string,
    db: Pool | PoolClient = this.pool,
  ): Promise<FileRecord | undefined> {
    const { rows } = await db.query<FileRow>(
      `SELECT * FROM files WHERE id = $1 AND ($2::text IS NULL OR tenant_id = $2)`,
      [id, tenantId ?? null],
    );
    return rows[0] && toRecord(rows[0]);
  }

  /** A tenant's files, newest first, after the given (created_at, id) position. */
  async list(
    tenantId: string,
    limit: number,
    opts: { purpose?: string; after?: { createdAt: Date; id: string } } = {},
  ): Promise<FileRecord[]> {
    const { rows } = await this.pool.query<FileRow>(
      `SELECT * FROM files WHERE tenant_id = $1 AND ($2::text IS NULL OR purpose = $2)
         AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
       ORDER BY created_at DESC, id DESC LIMIT $5`,
      [tenantId, opts.purpose ?? null, opts.after?.createdAt ?? null, opts.after?.id ?? null, limit],
    );
    return rows.map(toRecord);
  }

  /** Deletes a tenant's file and its bytes; false when there was none. */
  async delete(id: string, tenantId: string): Promise<boolean> {
    const r = await this.pool.query('DELETE FROM files WHERE id = $1 AND tenant_id = $2', [id, tenantId]);
    return (r.rowCount ?? 0) > 0;
  }

  /** Removes files by id in `c`'s transaction (a batch's partly written output, before a retry). */
  async deleteIn(c: PoolClient, ids: string[]): Promise<void> {
    await c.query('DELETE FROM files WHERE id = ANY($1::text[])', [ids]);
  }

  /**
   * The file's bytes, one stored chunk per query, in order: memory holds one chunk. Stops early if
   * the file is deleted while it is read.
   */
  async *content(id: string): AsyncGenerator<Buffer> {
    for (let seq = 0; ; seq++) {
      const { rows } = await this.pool.query<{ data: Buffer | null; data_sealed: SealedPayload | null }>(
        'SELECT data, data_sealed FROM file_chunks WHERE file_id = $1 AND seq = $2',
        [id, seq],
      );
      const r = rows[0];
      if (!r) return;
      yield r.data_sealed
        ? Buffer.from(await this.sealer.openSealed<string>(r.data_sealed), 'base64')
        : await this.sealer.open<Buffer>('files', r.data!);
    }
  }
}
