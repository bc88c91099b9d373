import { setFlagsFromString } from 'node:v8'

/**
 * Asks V8 to favour a small heap over a fast one, the trade this action wants: its JavaScript
 * only coordinates (the bytes move through the kernel, the hashing is native), and the issue
 * users have is memory at thousands of files, never the heap's CPU time.
 *
 * Two settings, both made at run time because a `node24` action cannot pass flags to Node:
 *
 * - `--memory-saver-mode`: V8's memory saver, the mode behind `Isolate::SetMemorySaverMode`,
 *   which embedders (Chrome's memory saver) switch on and off while isolates run, so it is
 *   read afresh wherever it applies. In it V8 grows the old generation by a small factor
 *   over what survived the last full collection, compacts, and gives freed pages back.
 *   Measured over 10,000 files of 16 KiB, with the outputs and the summary already
 *   streamed: peak memory 111-117 MiB with it, 124-125 without (V8's pages during the
 *   uploads 20 MiB against 35); with 150-character names 114-115 against 135-137. The cost
 *   is CPU: about 2 % more in collections, 2-8 % more for the whole process.
 * - `--semi-space-growth-factor=1`: V8 doubles the young generation each time enough objects
 *   have survived its collections since the last growth, and over a long run of requests
 *   they always have, the objects of the uploads in flight; so it grew to its default
 *   ceiling, semi-spaces of up to 32 MiB (10,000 small files peaked at 172-182 MiB, against
 *   129-134 without the growth). The factor is read in one place,
 *   `SemiSpaceNewSpace::Grow`, as the multiplier of the current capacity: at 1 a growth adds
 *   no page.
 *
 * Node warns that a flag changed after start-up may behave unpredictably, crash or do
 * nothing. These two are read where they apply, not once at start-up; at worst one does
 * nothing, and the memory is as before, never wrong. Flags that failed this test are left
 * alone: `--minor-ms` crashed Node here, and the WebAssembly tiering flags (which would spare
 * the 15-23 MiB TurboFan takes, once, to optimise undici's HTTP parser) are read only at
 * start-up.
 */
export function favourSmallHeap(): void {
  setFlagsFromString('--memory-saver-mode')
  setFlagsFromString('--semi-space-growth-factor=1')
}
