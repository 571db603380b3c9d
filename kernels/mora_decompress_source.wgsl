// The slot D(o) that output column o reads, into `src` (o itself for zero pad): statements that
// mora_decompress.wgsl (in main) and mora_decompress_vec4.wgsl (in source_column) take at their {{SOURCE}}
// placeholder (lib/ops/mora/templates.ts).
var src = o;
if (KIND == 1u) {
  src = o % params.slots;
} else if (KIND == 2u) {
  let big = params.groupSmall + 1u;
  let split = params.groupLarge * big;
  src = select(params.groupLarge + (o - split) / max(params.groupSmall, 1u), o / big, o < split);
}
