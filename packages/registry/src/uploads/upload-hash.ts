import { type DigestAlgorithm, digestOf } from '@wharf/oci';
import { IO_BUFFER_BYTES } from '@wharf/storage';
import { type HashingThread, HashingFailedError, type RemoteHash } from './hashing-thread.js';

/**
 * The hash of one upload's bytes. It lives on the hashing thread from the first update on, except when a single
 * update of at most one I/O buffer is the whole content and its digest is taken at once (a small blob pushed in
 * one request): that is hashed here, since a round trip to the other thread costs more than hashing it.
 */
export class UploadHash {
  private remote: RemoteHash | null = null;
  private local: string | null = null;

  constructor(
    readonly algorithm: DigestAlgorithm,
    private readonly thread: HashingThread,
  ) {}

  /** False once the hash can no longer be continued (it failed, ended, or was hashed whole here). */
  get usable(): boolean {
    return this.local === null && (this.remote === null || this.remote.usable);
  }

  /**
   * Hashes the next bytes; resolves once they have been read, after which their memory may be reused. `whole`
   * says these bytes are all there will be.
   */
  update(bytes: Buffer, whole: boolean): Promise<void> {
    if (this.local !== null) return Promise.reject(new HashingFailedError('the hash has ended'));
    if (whole && this.remote === null && bytes.length <= IO_BUFFER_BYTES) {
      this.local = digestOf(bytes, this.algorithm);
      return Promise.resolve();
    }
    this.remote ??= this.thread.open(this.algorithm);
    return this.remote.update(bytes);
  }

  /** The digest (`algorithm:hex`) of every byte hashed; the hash ends. */
  async digest(): Promise<string> {
    if (this.local !== null) return this.local;
    if (this.remote === null) {
      this.local = digestOf(Buffer.alloc(0), this.algorithm);
      return this.local;
    }
    return this.remote.digest();
  }

  /** Frees the hash's state; call it for a hash that is neither finished with digest() nor kept. */
  dispose(): void {
    this.remote?.dispose();
  }
}
