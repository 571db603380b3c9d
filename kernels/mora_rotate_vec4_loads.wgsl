// Shared piece of the rotation kernels that move four columns per thread, mora_compress_rotate_vec4.wgsl and
// mora_compress_rotate_backward_vec4.wgsl (listed after their op's piece, lib/ops/mora/templates.ts): when
// the four values a thread reads, and their rotation partners R/2 away, are one aligned vec4 of the vec4 view
// of the buffer they read (x as xv, dc as dcv), loaded as one.
// ALIGNED = 1 when P = R (R a multiple of 4: the compressed row is its slots); PARTNER_ALIGNED = 1 when R is
// also a multiple of 8 (so that R/2 is a multiple of 4).
override ALIGNED: u32 = 0u;
override PARTNER_ALIGNED: u32 = 0u;
