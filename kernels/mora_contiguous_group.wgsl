// Shared piece: the contiguous grouping of spec/mora.md §2 ("Contiguous groups"; lib/ops/mora/variants.ts
// contiguousGroupOf) of an axis into R groups, the first `large` (= size mod R) of small + 1 members and
// the others of `small` (= ⌊size/R⌋) members. The compression backward
// (kernels/mora_compress_backward_common.wgsl) and the decompression's source slot
// (kernels/mora_decompress_source.wgsl) list it as a piece (lib/ops/mora/templates.ts).

// The group of feature i.
fn contiguous_group_of(i: u32, small: u32, large: u32) -> u32 {
  let big = small + 1u;
  let split = large * big;
  return select(large + (i - split) / max(small, 1u), i / big, i < split);
}
