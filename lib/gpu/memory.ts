/**
 * Live and peak GPU byte counting. WebGPU has no memory query, so every buffer this project
 * allocates goes through {@link MemoryCounter}; its peak is the memory figure benchmarks report.
 *
 * @module
 */

/** Counts bytes of live GPU buffers and the peak since the last {@link MemoryCounter.resetPeak}. */
export class MemoryCounter {
  /** Bytes currently allocated. */
  live = 0;
  /** Highest value `live` has reached since the last reset. */
  peak = 0;
  /** Number of live buffers. */
  buffers = 0;

  /** Records an allocation of `bytes`. */
  allocate(bytes: number): void {
    this.live += bytes;
    this.buffers += 1;
    if (this.live > this.peak) this.peak = this.live;
  }

  /** Records that `bytes` were freed. */
  free(bytes: number): void {
    this.live -= bytes;
    this.buffers -= 1;
  }

  /** Starts a new peak measurement from the current live bytes. */
  resetPeak(): void {
    this.peak = this.live;
  }
}
