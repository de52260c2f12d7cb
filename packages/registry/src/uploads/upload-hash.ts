import { type DigestAlgorithm, Digester, digestOf } from '@wharf/oci';
import { IO_BUFFER_BYTES } from '@wharf/storage';
import { type HashingThread, HashingFailedError, type RemoteHash } from './hashing-thread.js';

/**
 * The hash of one upload's bytes. It lives on the hashing thread from the first update on, except for a small blob
 * pushed in one request (its whole content at most one I/O buffer, digest taken at once): that is hashed here, since
 * a round trip to the other thread costs more than hashing it. When the request declared that small a length, each
 * chunk is hashed here as it arrives (see hashInPlace); otherwise the one buffer is hashed when it is complete.
 */
export class UploadHash {
  private remote: RemoteHash | null = null;
  private local: string | null = null;
  private inPlace: Digester | null = null;

  constructor(
    readonly algorithm: DigestAlgorithm,
    private readonly thread: HashingThread,
  ) {}

  /** False once the hash can no longer be continued (it failed, ended, or was hashed whole here). */
  get usable(): boolean {
    return this.local === null && this.inPlace === null && (this.remote === null || this.remote.usable);
  }

  /**
   * Declares that the content is all still to come and at most `length` bytes. When that fits one I/O buffer, the
   * caller hands every chunk to updateInPlace as it arrives, so hashing fills the gaps between the chunks' arrival
   * instead of following the last one; true when it does. Nothing may have been hashed yet.
   */
  hashInPlace(length: number | undefined): boolean {
    if (length === undefined || length > IO_BUFFER_BYTES) return false;
    if (this.remote !== null || this.local !== null || this.inPlace !== null) return false;
    this.inPlace = new Digester(this.algorithm);
    return true;
  }

  /** Hashes the next chunk here and now (after hashInPlace said so); the caller may reuse its memory at once. */
  updateInPlace(chunk: Buffer): void {
    if (this.inPlace === null) throw new HashingFailedError('the hash is not being taken in place');
    this.inPlace.update(chunk);
  }

  /**
   * Hashes the next bytes; resolves once they have been read, after which their memory may be reused. `whole`
   * says these bytes are all there will be.
   */
  update(bytes: Buffer, whole: boolean): Promise<void> {
    if (this.local !== null) return Promise.reject(new HashingFailedError('the hash has ended'));
    if (this.inPlace !== null) return Promise.reject(new HashingFailedError('the hash is being taken in place'));
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
    if (this.inPlace !== null) {
      this.local = this.inPlace.digest();
      return this.local;
    }
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
