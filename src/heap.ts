import { setFlagsFromString } from 'node:v8'

/**
 * Keeps V8's young generation at the size it starts with.
 *
 * V8 doubles the young generation each time enough objects have survived its collections
 * since the last growth, and over a long run of requests they always have: the objects of
 * the uploads in flight survive one collection after another. So it grows to its default
 * ceiling, semi-spaces of up to 32 MiB, and stays there. That was the largest part of the
 * action's memory at thousands of files (10,000 small files peaked at 172-182 MiB, against
 * 129-134 MiB without the growth), and bought no speed: the young objects here are a
 * request's and die with it, and large files are read into a few reused buffers.
 *
 * The ceiling itself can only be set when the process starts, which a `node24` action
 * cannot do. The growth factor is read in one place, `SemiSpaceNewSpace::Grow`, as the
 * multiplier of the current capacity: at 1 the new capacity is the current one and a growth
 * adds no page (only a debug build's DCHECK would object; Node's release builds have none).
 * Node warns that a flag changed after start-up may behave unpredictably, crash or do
 * nothing; this one is read nowhere else, and some V8 versions raise it to at least 2, when
 * the memory is as before, never wrong. No other flag is set this way, on purpose:
 * `--minor-ms`, set at run time, crashed Node here.
 */
export function keepYoungGenerationSmall(): void {
  setFlagsFromString('--semi-space-growth-factor=1')
}
