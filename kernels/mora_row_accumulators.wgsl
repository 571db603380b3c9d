// Shared piece of the kernels that keep one accumulator per row of their tile in a fixed-size array,
// mora_compress_rotate_backward.wgsl and mora_compress_rotate_backward_vec4.wgsl (listed after their op's
// pieces, lib/ops/mora/templates.ts): ROWS (kernels/mora_tiling.wgsl) is at most MAX_ROWS.
const MAX_ROWS: u32 = 32u;
