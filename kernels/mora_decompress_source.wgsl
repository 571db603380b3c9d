// The slot D(o) that output column o reads, into `src` (o itself for zero pad): statements that
// mora_decompress.wgsl (in main) and mora_decompress_vec4.wgsl (in source_column) take at their {{SOURCE}}
// placeholder (lib/ops/mora/templates.ts).
var src = o;
if (KIND == 1u) {
  src = o % params.slots;
} else if (KIND == 2u) {
  src = contiguous_group_of(o, params.groupSmall, params.groupLarge);
}
